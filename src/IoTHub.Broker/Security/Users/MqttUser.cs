namespace IoTHub.Broker.Security.Users;

/// <summary>A built-in MQTT user as stored: its password hash, never the password.</summary>
/// <param name="UserName">The user name of CONNECT; unique, case-sensitive.</param>
/// <param name="PasswordHash">The <see cref="PasswordFile.PasswordHash.Encoded"/> form: <c>$7$</c> (PBKDF2-SHA512) or an imported <c>$6$</c>.</param>
/// <param name="Enabled">False: refused as a wrong password would be, without being deleted.</param>
/// <param name="ClientIdPattern">The client ids it may use (<see cref="ClientIdPattern"/>); null for any.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="ChangedAt">When it was last changed (its creation, until then).</param>
/// <param name="ScramSha256">
/// The <see cref="Scram.ScramCredential.Encoded"/> SCRAM-SHA-256 credential, made with the password when it is set here;
/// null for users imported from a password file until their password changes (they cannot use SCRAM-SHA-256).
/// </param>
/// <param name="Superuser">True: its clients may publish and subscribe to anything, whatever the access rules say.</param>
public sealed record MqttUser(string UserName, string PasswordHash, bool Enabled, string? ClientIdPattern, DateTimeOffset CreatedAt, DateTimeOffset ChangedAt,
    string? ScramSha256 = null, bool Superuser = false);
