namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with a Jwt authenticator (0) checking <see cref="JwtSecretHost.Secret"/> (HS256), issuer and audience, with
/// no clock skew (a token's connection ends at its <c>exp</c> exactly) and the client's roles in the claim <c>roles</c>,
/// then (1) a password file with alice for passwords that are not JWTs. What no access rule grants is refused
/// (Security:AclDefault deny); the admin API's first admin has <see cref="AdminClient"/>'s password. The broker's log
/// (information and up) goes to <see cref="Logs"/>; bans are off.
/// </summary>
public sealed class JwtRightsHost : IDisposable
{
    public const string AlicePassword = "alice-in-the-file";

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-interop-jwt-rights-").FullName;

    public JwtRightsHost()
    {
        var passwords = Path.Combine(_folder, "passwords");
        PasswordFileHost.RunPasswd("-c", "-b", passwords, "alice", AlicePassword);
        AdminClient.ChoosePassword();
        Host = new InteropHost(new Dictionary<string, string>
        {
            ["Security:Authenticators:0:Type"] = "Jwt",
            ["Security:Authenticators:0:Secret"] = JwtSecretHost.Secret,
            ["Security:Authenticators:0:Issuer"] = Tokens.Issuer,
            ["Security:Authenticators:0:Audience"] = Tokens.Audience,
            ["Security:Authenticators:0:ClockSkew"] = "00:00:00",
            ["Security:Authenticators:0:RolesClaim"] = "roles",
            ["Security:AclDefault"] = "deny",
            ["Security:Authenticators:1:Type"] = "PasswordFile",
            ["Security:Authenticators:1:Path"] = passwords,
            ["Security:Bans:Enabled"] = "false",
            ["Logging:LogLevel:IoTHub.Broker"] = "Information",
        }, Logs);
    }

    public InteropHost Host { get; }

    public LogCapture Logs { get; } = new();

    public void Dispose()
    {
        Host.Dispose();
        Directory.Delete(_folder, recursive: true);
    }
}
