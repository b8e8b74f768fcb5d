namespace IoTHub.Broker.Security;

/// <summary>
/// What an authenticator says an accepted client may do, beyond its user name: roles whose access rules apply to it
/// (a directory's groups, a token's claim) and whether it is a superuser (a webhook's <c>is_superuser</c>). The access
/// rules read them together with what they hold for the user name (see <c>Authorization.AclRuleSet</c>); they last as
/// long as the connection.
/// </summary>
/// <param name="Roles">Role names, looked up like the roles an access-rule source gives a user; an unknown role grants nothing.</param>
public sealed record ClientRights(IReadOnlyList<string> Roles, bool Superuser);

/// <summary>An authenticator's <see cref="AuthenticationResult"/>, and for an <see cref="AuthenticationResult.Allow"/> the client's rights, if it gives any.</summary>
public readonly record struct AuthenticationAnswer(AuthenticationResult Result, ClientRights? Rights = null)
{
    public static implicit operator AuthenticationAnswer(AuthenticationResult result) => new(result);
}
