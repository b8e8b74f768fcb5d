namespace IoTHub.Web.Configuration;

/// <summary>Section "Admin": the admin API's accounts and tokens.</summary>
internal sealed class AdminOptions
{
    public const string SectionName = "Admin";

    /// <summary>HMAC-SHA256 keys shorter than this are refused (RFC 7518 §3.2).</summary>
    public const int MinimumSigningKeyBytes = 32;

    /// <summary>How long a token from POST /api/v1/auth/login stays valid.</summary>
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The token signing key in base64; empty: a key generated at first start and kept in the data directory.</summary>
    public string SigningKey { get; set; } = string.Empty;

    /// <summary>Failed logins one client address may make per <see cref="FailedLoginWindow"/> before it gets 429.</summary>
    public int FailedLoginLimit { get; set; } = 5;

    public TimeSpan FailedLoginWindow { get; set; } = TimeSpan.FromMinutes(1);

    public void Read(SectionReader reader)
    {
        TokenLifetime = reader.Duration(nameof(TokenLifetime), TokenLifetime);
        SigningKey = reader.Text(nameof(SigningKey), SigningKey);
        FailedLoginLimit = (int)reader.Number(nameof(FailedLoginLimit), FailedLoginLimit, 1, 1_000_000);
        FailedLoginWindow = reader.Duration(nameof(FailedLoginWindow), FailedLoginWindow);
        if (SigningKey.Length > 0 && DecodeSigningKey(SigningKey) is null)
        {
            reader.Fail(nameof(SigningKey), $"is not base64 of at least {MinimumSigningKeyBytes} bytes (e.g. the output of `openssl rand -base64 32`).");
            SigningKey = string.Empty;
        }
    }

    /// <summary>The key bytes, or null when <paramref name="base64"/> is not base64 of a long enough key.</summary>
    public static byte[]? DecodeSigningKey(string base64)
    {
        var buffer = new byte[base64.Length];
        return Convert.TryFromBase64String(base64.Trim(), buffer, out var length) && length >= MinimumSigningKeyBytes ? buffer[..length] : null;
    }
}
