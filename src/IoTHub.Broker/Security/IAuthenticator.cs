namespace IoTHub.Broker.Security;

/// <summary>What one authenticator of the <see cref="AuthenticationChain"/> says about a CONNECT.</summary>
public enum AuthenticationResult
{
    /// <summary>Not a client this authenticator knows (e.g. a user name it does not hold): the next one is asked.</summary>
    NotMine,

    /// <summary>The credentials are right.</summary>
    Allow,

    /// <summary>A client it knows, with wrong credentials: refused, no other authenticator is asked.</summary>
    Deny,

    /// <summary>
    /// Right credentials, but this client may not connect (its client id is not one its user may use): refused with
    /// 0x87 Not authorized (3.1.1: 5), no other authenticator is asked.
    /// </summary>
    Forbidden,

    /// <summary>
    /// Its backend failed or did not answer in time, and its failure policy refuses the client: 0x88 Server unavailable
    /// (3.1.1: 3), no other authenticator is asked. Not cached: the next CONNECT asks the backend again.
    /// </summary>
    Unavailable,

    /// <summary>
    /// Its backend failed or did not answer in time, and its failure policy passes the client on: the next authenticator
    /// is asked, as for <see cref="NotMine"/>. The chain's decision is not cached (it was made without this one).
    /// </summary>
    UnavailablePassedOn,
}

/// <summary>
/// One link of the <see cref="AuthenticationChain"/>: a password file, database users, later client certificates.
/// Answer with a completed <see cref="ValueTask{TResult}"/> when the answer is at hand.
/// </summary>
public interface IAuthenticator
{
    /// <summary>The <c>method</c> label of <c>iothub_authentication_total</c>, e.g. <c>password_file</c>.</summary>
    string Method { get; }

    /// <summary>
    /// Whether the chain may cache what it decides (allow, deny); false for decisions that hold only for a while of their
    /// own, such as a token's until it expires. Its <see cref="AuthenticationResult.NotMine"/> does not stop the next
    /// authenticator's decision from being cached.
    /// </summary>
    bool DecisionsCached => true;

    ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken);
}
