namespace IoTHub.LoadTest;

/// <summary>
/// A service outside the broker that IoTHub's authenticator 0 asks in a connect scenario (issue 18's backends), started
/// by the tool on loopback for one scenario's run and stopped after it: the authenticator's keys, the one user the
/// clients connect as, and how much the service was asked.
/// </summary>
internal interface IAuthenticationBackend : IAsyncDisposable
{
    /// <summary>The keys of <c>Security:Authenticators:0</c> (<c>Type</c> included) that point IoTHub at the service.</summary>
    IReadOnlyDictionary<string, string> Settings { get; }

    Credentials Credentials { get; }

    /// <summary>
    /// What the service was asked in all (warm-up included), for the row's notes; called once the broker has stopped.
    /// Null when it is not counted.
    /// </summary>
    Task<string?> CountAsync();
}

internal static class AuthenticationBackends
{
    /// <summary>Starts the service a scenario's authentication asks; null for the ones inside the broker.</summary>
    public static async Task<IAuthenticationBackend?> StartAsync(ConnectAuthentication authentication) => authentication switch
    {
        ConnectAuthentication.Webhook => WebhookUsers.Start(),
        ConnectAuthentication.Sql => await SqlUsers.StartAsync(bcrypt: true).ConfigureAwait(false),
        ConnectAuthentication.SqlPlain => await SqlUsers.StartAsync(bcrypt: false).ConfigureAwait(false),
        ConnectAuthentication.Jwt => new JwtUsers(),
        ConnectAuthentication.Ldap => await LdapUsers.StartAsync().ConfigureAwait(false),
        _ => null,
    };
}
