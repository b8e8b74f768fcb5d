using System.Security.Cryptography;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Auth;

/// <summary>
/// The key that signs admin tokens (HMAC-SHA256): <c>Admin:SigningKey</c> when set; otherwise 32
/// random bytes made at first start and kept in <c>&lt;data-dir&gt;/admin-signing.key</c>, readable by
/// the owner only, so that tokens survive a restart.
/// </summary>
internal sealed class SigningKey(IOptions<AdminOptions> admin, IOptions<StorageOptions> storage, IHostEnvironment environment)
{
    public const string FileName = "admin-signing.key";

    private readonly Lazy<SymmetricSecurityKey> _key = new(() => new SymmetricSecurityKey(Load(admin.Value, storage.Value, environment)));

    public SymmetricSecurityKey Key => _key.Value;

    private static byte[] Load(AdminOptions admin, StorageOptions storage, IHostEnvironment environment)
    {
        if (admin.SigningKey.Length > 0)
        {
            return AdminOptions.DecodeSigningKey(admin.SigningKey)!;
        }

        var folder = Path.GetFullPath(storage.DataDirectory, environment.ContentRootPath);
        var path = Path.Combine(folder, FileName);
        if (File.Exists(path) && AdminOptions.DecodeSigningKey(File.ReadAllText(path)) is { } existing)
        {
            return existing;
        }

        Directory.CreateDirectory(folder);
        var key = RandomNumberGenerator.GetBytes(AdminOptions.MinimumSigningKeyBytes);
        var file = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            file.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var writer = new StreamWriter(path, file))
        {
            writer.Write(Convert.ToBase64String(key));
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode applies to a new file only; a replaced unreadable one keeps its mode otherwise.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        return key;
    }
}
