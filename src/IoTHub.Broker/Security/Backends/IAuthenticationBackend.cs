namespace IoTHub.Broker.Security.Backends;

/// <summary>
/// What a <see cref="BackendAuthenticator"/> does with a client when its backend fails or does not answer within its timeout.
/// </summary>
public enum BackendFailurePolicy
{
    /// <summary>The client is refused with 0x88 Server unavailable (3.1.1: 3); no other authenticator is asked.</summary>
    Deny,

    /// <summary>The next authenticator is asked, as if the backend did not know the client.</summary>
    NotMine,
}

/// <summary>
/// A service outside the broker that decides on CONNECTs (an HTTP endpoint, a database, a directory), asked through a
/// <see cref="BackendAuthenticator"/>, which adds the timeout, the failure policy and the failure tracking.
/// </summary>
public interface IAuthenticationBackend
{
    /// <summary>The <c>method</c> label of the metrics, e.g. <c>webhook</c>.</summary>
    string Method { get; }

    /// <summary>What it is, for logs and alarms (e.g. the URL without credentials or query); never a secret.</summary>
    string Description { get; }

    /// <inheritdoc cref="IAuthenticator.DecisionsCached"/>
    bool DecisionsCached => true;

    /// <summary>
    /// Asks the backend: <see cref="AuthenticationResult.Allow"/>, <see cref="AuthenticationResult.Deny"/>,
    /// <see cref="AuthenticationResult.Forbidden"/> or <see cref="AuthenticationResult.NotMine"/>; an allow may carry the
    /// client's <see cref="ClientRights"/>. A backend that cannot
    /// answer throws: <see cref="AuthenticationBackendException"/> with a message fit for the log, or what its client
    /// library throws. <paramref name="cancellationToken"/> is cancelled at the timeout and when the broker stops.
    /// </summary>
    Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken);
}

/// <summary>A backend answered, but not with a decision (an unexpected status, an answer that does not parse); the message says why and holds no secret.</summary>
public sealed class AuthenticationBackendException(string message) : Exception(message);
