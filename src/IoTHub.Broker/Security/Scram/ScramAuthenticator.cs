using System.Text;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Security.Users;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Security.Scram;

/// <summary>
/// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) against the database users, as MQTT 5.0 enhanced authentication:
/// CONNECT (or AUTH 0x19) carries the client-first-message, AUTH 0x18 the server-first and the client-final ones, and
/// CONNACK (or AUTH 0x00) the server-final one. SCRAM-SHA-256 uses the user's stored SCRAM-SHA-256 credential (made when
/// the password is set through the API or the dashboard); SCRAM-SHA-512 uses the <c>$7$</c> hash itself, which is the
/// SaltedPassword. A user without the credential, a disabled one and a name no user has get a salt made from the name
/// and <c>secret</c> (the same at every try, as a real one would be) and are refused at the proof, like a wrong
/// password (0x86), so SCRAM does not tell who exists. The server side costs two HMACs and a hash: no PBKDF2.
/// </summary>
/// <param name="store">The database users.</param>
/// <param name="secret">A key kept across restarts, so that the made-up salts of unknown users stay the same.</param>
/// <param name="passwordHashIterations">The PBKDF2 count of new database hashes (Security:PasswordHashIterations): an unknown user's made-up SCRAM-SHA-512 credential has it too.</param>
public sealed class ScramAuthenticator(IMqttUserStore store, byte[] secret, int passwordHashIterations = PasswordHash.DefaultIterations) : IEnhancedAuthenticator
{
    public const string MethodName = "scram";

    private static readonly ConnectDecision WrongProof = ConnectDecision.Refuse(ReasonCode.BadUserNameOrPassword, "bad user name or password");

    private static readonly ConnectDecision ClientIdRefused = ConnectDecision.Refuse(ReasonCode.NotAuthorized, "this user may not use this client id");

    private static readonly ConnectDecision OtherUser =
        ConnectDecision.Refuse(ReasonCode.BadUserNameOrPassword, "the user name of CONNECT is not the SCRAM user");

    private readonly byte[] _saltKey = ScramMechanism.Sha256.Hmac(secret, "IoTHub SCRAM salts of unknown users"u8);

    public string Method => MethodName;

    public IReadOnlyList<string> AuthenticationMethods { get; } = [.. ScramMechanism.All.Select(static m => m.Name)];

    public ValueTask<ConnectDecision> StepAsync(ConnectRequest request, AuthenticationExchange exchange, CancellationToken cancellationToken) =>
        exchange.State switch
        {
            null => FirstAsync(request, exchange, cancellationToken),
            Exchange { Finished: false } state => ValueTask.FromResult(Final(request, exchange, state)),
            _ => ValueTask.FromResult(Malformed("the exchange is over")),
        };

    private async ValueTask<ConnectDecision> FirstAsync(ConnectRequest request, AuthenticationExchange exchange, CancellationToken cancellationToken)
    {
        var mechanism = ScramMechanism.Find(exchange.Method)!;
        if (ScramServer.Start(mechanism, exchange.Data, out var problem) is not { } server)
        {
            return Malformed(problem!);
        }

        exchange.UserName = server.UserName;
        var user = await store.FindAsync(server.UserName, cancellationToken).ConfigureAwait(false);
        var credential = user is { Enabled: true } ? CredentialOf(user, mechanism) : null;
        exchange.State = new Exchange(server, credential is null ? null : user);
        return ConnectDecision.Continue(server.ServerFirst(credential ?? MadeUp(mechanism, server.UserName)));
    }

    private static ConnectDecision Final(ConnectRequest request, AuthenticationExchange exchange, Exchange state)
    {
        state.Finished = true;
        var serverFinal = state.Server.Finish(exchange.Data, out var problem);
        if (serverFinal is null)
        {
            return problem is null ? WrongProof : Malformed(problem);
        }

        if (state.User is not { } user)
        {
            return WrongProof;
        }

        // A re-authentication names the connection's user in the request; a CONNECT may name none, or must name the same.
        if (request.UserName is { } named && named != user.UserName)
        {
            return OtherUser;
        }

        return user.ClientIdPattern is { } pattern && !ClientIdPattern.Matches(pattern, user.UserName, request.ClientId)
            ? ClientIdRefused
            : ConnectDecision.AcceptedBy(DatabaseAuthenticator.MethodName) with { AuthenticationData = serverFinal, UserName = user.UserName };
    }

    private static ScramCredential? CredentialOf(MqttUser user, ScramMechanism mechanism)
    {
        if (mechanism == ScramMechanism.Sha256)
        {
            return user.ScramSha256 is { } stored ? ScramCredential.Parse(stored) : null;
        }

        return PasswordHash.Parse(user.PasswordHash, out _) is { Pbkdf2: var (salt, derived) } hash
            ? ScramCredential.FromSaltedPassword(mechanism, hash.Iterations, salt, derived)
            : null;
    }

    /// <summary>A credential no password matches, with a salt that is the same at every try for the same name.</summary>
    private ScramCredential MadeUp(ScramMechanism mechanism, string userName)
    {
        var salt = ScramMechanism.Sha256.Hmac(_saltKey, Encoding.UTF8.GetBytes(mechanism.Name + "\n" + userName))[..16];
        var impossible = new byte[mechanism.HashSize];
        // SCRAM-SHA-512's credentials are the database's $7$ hashes: a made-up one has the count new hashes get.
        var iterations = mechanism == ScramMechanism.Sha512 ? passwordHashIterations : mechanism.DefaultIterations;
        return new ScramCredential(mechanism, iterations, salt, impossible, impossible);
    }

    private static ConnectDecision Malformed(string problem) => ConnectDecision.Refuse(ReasonCode.NotAuthorized, "SCRAM: " + problem);

    private sealed class Exchange(ScramServer server, MqttUser? user)
    {
        public ScramServer Server { get; } = server;

        /// <summary>The user whose credential was used; null when a made-up one was (no proof is right then).</summary>
        public MqttUser? User { get; } = user;

        public bool Finished { get; set; }
    }
}
