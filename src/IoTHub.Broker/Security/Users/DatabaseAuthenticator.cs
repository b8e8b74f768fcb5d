using IoTHub.Broker.Security.PasswordFile;

namespace IoTHub.Broker.Security.Users;

/// <summary>
/// The <c>Database</c> authenticator: the built-in users of an <see cref="IMqttUserStore"/>. A user name it does not
/// hold is not its own; a disabled user, a missing or wrong password is denied; the right password with a client id
/// the user's <see cref="ClientIdPattern"/> does not allow is forbidden. A check reads the store and hashes the password
/// (about 100 ms of one core at 210 000 iterations): at most half the cores hash at once, later checks wait for a turn
/// without holding a thread, so a burst of cold connects (or of wrong passwords) leaves threads for everyone else. The
/// chain's cache answers repeated connects without coming here.
/// </summary>
public sealed class DatabaseAuthenticator(IMqttUserStore store) : IAuthenticator, IDisposable
{
    public const string MethodName = "database";

    private readonly SemaphoreSlim _hashing = new(Math.Max(1, Environment.ProcessorCount / 2));

    public string Method => MethodName;

    public async ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.UserName is not { } userName || await store.FindAsync(userName, cancellationToken).ConfigureAwait(false) is not { } user)
        {
            return AuthenticationResult.NotMine;
        }

        // A hash that does not parse was written around the API (which checks every hash): no password matches it.
        if (!user.Enabled || request.Password is not { } password || PasswordHash.Parse(user.PasswordHash, out _) is not { } hash)
        {
            return AuthenticationResult.Deny;
        }

        bool matches;
        await _hashing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            matches = hash.Matches(password);
        }
        finally
        {
            _hashing.Release();
        }

        if (!matches)
        {
            return AuthenticationResult.Deny;
        }

        return user.ClientIdPattern is { } pattern && !ClientIdPattern.Matches(pattern, userName, request.ClientId)
            ? AuthenticationResult.Forbidden
            : AuthenticationResult.Allow;
    }

    public void Dispose() => _hashing.Dispose();
}
