using IoTHub.Web.Configuration;
using Microsoft.Extensions.Configuration;

namespace IoTHub.Web.Tests;

/// <summary>The "Admin" section is read and validated like the others.</summary>
public sealed class AdminSettingsTests
{
    [Fact]
    public void Every_bad_admin_key_is_reported()
    {
        var reader = Read(new()
        {
            ["Admin:TokenLifetime"] = "soon",
            ["Admin:SigningKey"] = Convert.ToBase64String(new byte[16]),
            ["Admin:FailedLoginLimit"] = "0",
            ["Admin:TokenLifetim"] = "01:00:00",
        }, new AdminOptions());

        Assert.Collection(
            reader.Errors.Order(StringComparer.Ordinal),
            e => Assert.StartsWith("Admin:FailedLoginLimit '0'", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Admin:SigningKey is not base64 of at least 32 bytes", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Admin:TokenLifetim is not a known setting", e, StringComparison.Ordinal),
            e => Assert.StartsWith("Admin:TokenLifetime 'soon'", e, StringComparison.Ordinal));
    }

    [Fact]
    public void Good_admin_values_are_taken()
    {
        var key = Convert.ToBase64String(Enumerable.Range(0, 32).Select(static i => (byte)i).ToArray());
        var options = new AdminOptions();

        var reader = Read(new() { ["Admin:TokenLifetime"] = "00:05:00", ["Admin:SigningKey"] = key, ["Admin:FailedLoginWindow"] = "00:00:30" }, options);

        Assert.Empty(reader.Errors);
        Assert.Equal(TimeSpan.FromMinutes(5), options.TokenLifetime);
        Assert.Equal(TimeSpan.FromSeconds(30), options.FailedLoginWindow);
        Assert.Equal(32, AdminOptions.DecodeSigningKey(options.SigningKey)!.Length);
    }

    private static SectionReader Read(Dictionary<string, string?> values, AdminOptions options)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var reader = new SectionReader(configuration.GetSection(AdminOptions.SectionName));
        options.Read(reader);
        reader.RejectUnknownKeys();
        return reader;
    }
}
