using System.Text;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Scram;
using IoTHub.Broker.Security.Users;
using IoTHub.Web.Api;
using IoTHub.Web.Configuration;
using IoTHub.Web.Mqtt;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Security.Users;

/// <summary>What a change to the built-in users came to.</summary>
internal enum MqttUserOutcome
{
    Done,

    /// <summary>The request is not valid: the errors say why.</summary>
    Invalid,

    NotFound,

    /// <summary>A user of that name exists.</summary>
    Exists,
}

/// <summary>What a PUT changes; null: left as it is.</summary>
/// <param name="Password">A new password.</param>
/// <param name="Enabled">False disables the user (its clients are disconnected).</param>
/// <param name="ClientIdPattern">An empty one removes the pattern (any client id).</param>
/// <param name="Superuser">True: its clients may do anything, whatever the access rules say; false: they are checked again.</param>
internal sealed record MqttUserChange(string? Password, bool? Enabled, string? ClientIdPattern, bool? Superuser = null);

/// <summary>
/// The built-in MQTT users as the API and the dashboard change them: checked, hashed (<see cref="PasswordHash"/>,
/// PBKDF2-SHA512, and a SCRAM-SHA-256 credential), stored. After every change the authentication cache forgets the user, so the next CONNECT is decided
/// on what is stored now (a refusal of a name created since included); a user deleted or disabled is disconnected from
/// every broker where the Database authenticator let it in (5.0: DISCONNECT 0x87 Not authorized). A change of the
/// superuser flag, and a deletion (which takes the user's roles and rules with it), is in force on connected clients
/// before the call returns (<see cref="StoredAclSource"/>).
/// </summary>
internal sealed class MqttUserAccounts(IMqttUserStore store, AuthenticationChain chain, BrokerRegistry registry, IOptions<SecurityOptions> security,
    StoredAclSource access, TimeProvider time)
{
    public const int MinimumPasswordLength = 8;

    /// <summary>The most an MQTT password can hold (a two-byte length, 5.0 §1.5.6).</summary>
    public const int MaximumPasswordBytes = ushort.MaxValue;

    /// <summary>Whether the chain asks these users (<c>Security:Authenticators:n:Type=Database</c>); they are kept either way.</summary>
    public bool Checked { get; } = security.Value.Authenticators.Any(static a => a.Type == AuthenticatorType.Database);

    public Task<IReadOnlyList<MqttUser>> ListAsync(CancellationToken cancellationToken) => store.ListAsync(cancellationToken);

    public Task<MqttUser?> FindAsync(string userName, CancellationToken cancellationToken) => store.FindAsync(userName, cancellationToken);

    public async Task<(MqttUserOutcome Outcome, MqttUser? User)> CreateAsync(string? userName, string? password, bool? enabled, string? clientIdPattern,
        bool? superuser, ValidationErrors errors, CancellationToken cancellationToken)
    {
        errors.CheckName("userName", userName);
        CheckPassword(password, errors);
        if (clientIdPattern is not null)
        {
            errors.CheckName("clientIdPattern", clientIdPattern);
        }

        if (errors.Any)
        {
            return (MqttUserOutcome.Invalid, null);
        }

        var now = time.GetUtcNow();
        var user = new MqttUser(userName!, PasswordHash.Create(password!, security.Value.PasswordHashIterations).Encoded, enabled ?? true, clientIdPattern, now, now,
            ScramSha256(password!), superuser ?? false);
        if (!await store.AddAsync(user, cancellationToken))
        {
            return (MqttUserOutcome.Exists, null);
        }

        Changed(userName!, disconnectBecause: null);
        if (user.Superuser)
        {
            await access.LoadAsync();
        }

        return (MqttUserOutcome.Done, user);
    }

    public async Task<(MqttUserOutcome Outcome, MqttUser? User)> UpdateAsync(string userName, MqttUserChange change, ValidationErrors errors,
        CancellationToken cancellationToken)
    {
        if (change is { Password: null, Enabled: null, ClientIdPattern: null, Superuser: null })
        {
            errors.Add("body", "must set password, enabled, clientIdPattern or superuser.");
        }

        if (change.Password is not null)
        {
            CheckPassword(change.Password, errors);
        }

        if (change.ClientIdPattern is { Length: > 0 } pattern)
        {
            errors.CheckName("clientIdPattern", pattern);
        }

        if (errors.Any)
        {
            return (MqttUserOutcome.Invalid, null);
        }

        if (await store.FindAsync(userName, cancellationToken) is not { } user)
        {
            return (MqttUserOutcome.NotFound, null);
        }

        var changed = user with
        {
            PasswordHash = change.Password is { } password ? PasswordHash.Create(password, security.Value.PasswordHashIterations).Encoded : user.PasswordHash,
            ScramSha256 = change.Password is { } newPassword ? ScramSha256(newPassword) : user.ScramSha256,
            Enabled = change.Enabled ?? user.Enabled,
            ClientIdPattern = change.ClientIdPattern switch { null => user.ClientIdPattern, "" => null, var replaced => replaced },
            Superuser = change.Superuser ?? user.Superuser,
            ChangedAt = time.GetUtcNow(),
        };
        if (!await store.UpdateAsync(changed, cancellationToken))
        {
            return (MqttUserOutcome.NotFound, null);
        }

        Changed(userName, changed.Enabled ? null : "user disabled");
        if (changed.Superuser != user.Superuser)
        {
            await access.LoadAsync();
        }

        return (MqttUserOutcome.Done, changed);
    }

    public async Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken)
    {
        if (!await store.DeleteAsync(userName, cancellationToken))
        {
            return false;
        }

        Changed(userName, "user deleted");
        await access.LoadAsync();
        return true;
    }

    /// <summary>
    /// Adds the users of a Mosquitto password file with their hashes as they are (<c>$7$</c> and <c>$6$</c>), enabled and
    /// without a client-id pattern. A bad line, and a user that exists (kept as it is), is reported by line number.
    /// </summary>
    public async Task<(IReadOnlyList<string> Added, IReadOnlyList<(int Line, string Problem)> Problems)> ImportAsync(string passwordFile,
        CancellationToken cancellationToken)
    {
        var content = PasswordFileContent.Parse(passwordFile);
        var problems = content.Problems.ToList();
        var added = new List<string>();
        var now = time.GetUtcNow();
        foreach (var (line, userName) in content.Lines)
        {
            var errors = new ValidationErrors();
            errors.CheckName("userName", userName);
            if (errors.Any)
            {
                problems.Add((line, $"user '{userName}': {errors.Summary}"));
            }
            else if (await store.AddAsync(new MqttUser(userName, content.Find(userName)!.Encoded, true, null, now, now), cancellationToken))
            {
                added.Add(userName);
                Changed(userName, disconnectBecause: null);
            }
            else
            {
                problems.Add((line, $"user '{userName}' exists and is kept as it is"));
            }
        }

        return (added, [.. problems.OrderBy(static p => p.Line)]);
    }

    /// <summary>The SCRAM-SHA-256 credential of a password set here (SCRAM-SHA-512 uses the $7$ hash itself).</summary>
    private static string ScramSha256(string password) => ScramCredential.Create(ScramMechanism.Sha256, password).Encoded;

    private static void CheckPassword(string? password, ValidationErrors errors)
    {
        if (password is null || password.Length < MinimumPasswordLength || Encoding.UTF8.GetByteCount(password) > MaximumPasswordBytes)
        {
            errors.Add("password", $"must be at least {MinimumPasswordLength} characters and at most {MaximumPasswordBytes} bytes in UTF-8.");
        }
    }

    private void Changed(string userName, string? disconnectBecause)
    {
        chain.Forget(userName);
        if (disconnectBecause is not null)
        {
            foreach (var broker in registry.Brokers.Values)
            {
                broker.DisconnectUser(userName, DatabaseAuthenticator.MethodName, disconnectBecause);
            }
        }
    }
}
