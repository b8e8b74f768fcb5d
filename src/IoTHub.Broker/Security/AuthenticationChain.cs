using IoTHub.Broker.Connections;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Security;

/// <summary>
/// Asks its authenticators in order until one allows or denies a CONNECT; when none knows the client, a client without
/// a user name is anonymous (accepted only with <c>allowAnonymous</c>, else 0x87 Not authorized) and one with a user
/// name has bad credentials (0x86). 3.1.1 clients get these as 0x05 and 0x04. Decisions on a user name are cached
/// (see <see cref="AuthenticationCache"/>), so a cache hit answers synchronously, except those made while an authenticator's
/// backend failed (<see cref="AuthenticationResult.Unavailable"/>: 0x88); every decision is counted by method.
/// Without authenticators every client is accepted or refused by <c>allowAnonymous</c> alone. A listener may set its own
/// rule for anonymous clients (<see cref="Connections.ConnectionInfo.AllowAnonymous"/>), which then replaces <c>allowAnonymous</c>.
/// A CONNECT or AUTH with an Authentication Method goes to the enhanced authenticator that takes it (never cached: each
/// exchange has its own nonces), or is refused with 0x8C Bad authentication method [MQTT-4.12.0-1].
/// </summary>
public sealed class AuthenticationChain : IConnectAuthenticator, IDisposable
{
    /// <summary>The method of decisions no authenticator made.</summary>
    public const string AnonymousMethod = "anonymous";

    private static readonly string[] Results = ["allow", "deny"];

    // 5.0 §3.2.2.2: 0x86 for credentials that are wrong, 0x87 for a client that may not connect (here: without credentials).
    private static readonly ConnectDecision BadCredentials = ConnectDecision.Refuse(ReasonCode.BadUserNameOrPassword, "bad user name or password");

    private static readonly ConnectDecision AnonymousRefused = ConnectDecision.Refuse(ReasonCode.NotAuthorized, "anonymous clients are not allowed");

    private static readonly ConnectDecision ClientIdRefused = ConnectDecision.Refuse(ReasonCode.NotAuthorized, "this user may not use this client id");

    // 0x88, not 0x86: the credentials were not checked, the client should try again later, and bans do not count it.
    private static readonly ConnectDecision BackendUnavailable = ConnectDecision.Refuse(ReasonCode.ServerUnavailable, "the authentication backend is unavailable");

    private readonly IAuthenticator[] _authenticators;
    private readonly IEnhancedAuthenticator[] _enhanced;
    private readonly bool _allowAnonymous;
    private readonly AuthenticationCache _cache;
    private readonly string[] _methods;

    /// <summary>The accepting decision of each authenticator, made once: it names the method.</summary>
    private readonly ConnectDecision[] _accepted;

    /// <summary>Decisions per method index (an authenticator's, or <see cref="AnonymousMethod"/> last) and result.</summary>
    private readonly long[] _decisions;

    /// <param name="enhanced">The enhanced authentication methods (MQTT 5.0 §4.12); none: every one is refused with 0x8C.</param>
    public AuthenticationChain(IReadOnlyList<IAuthenticator> authenticators, bool allowAnonymous, TimeSpan cacheDuration, TimeProvider? time = null,
        IReadOnlyList<IEnhancedAuthenticator>? enhanced = null)
    {
        _authenticators = [.. authenticators];
        Authenticators = _authenticators.AsReadOnly();
        _enhanced = [.. enhanced ?? []];
        _allowAnonymous = allowAnonymous;
        _cache = new AuthenticationCache(cacheDuration, time ?? TimeProvider.System);

        // Methods: the authenticators', the enhanced ones' after them, anonymous last.
        _methods = [.. _authenticators.Select(static a => a.Method), .. _enhanced.Select(static e => e.Method), AnonymousMethod];
        _accepted = [.. _authenticators.Select(static a => ConnectDecision.AcceptedBy(a.Method))];
        _decisions = new long[_methods.Length * Results.Length];
    }

    public bool AllowAnonymous => _allowAnonymous;

    /// <summary>The authenticators, in the order they are asked.</summary>
    public IReadOnlyList<IAuthenticator> Authenticators { get; }

    /// <summary>The Authentication Methods clients may use (e.g. <c>SCRAM-SHA-256</c>).</summary>
    public IEnumerable<string> AuthenticationMethods => _enhanced.SelectMany(static e => e.AuthenticationMethods);

    private int AnonymousIndex => _methods.Length - 1;

    /// <summary>Cached decisions (for tests and diagnostics).</summary>
    internal AuthenticationCache Cache => _cache;

    /// <summary>Every (method, result) pair with its count, zeros included, for <c>iothub_authentication_total</c>.</summary>
    public IEnumerable<(string Method, string Result, long Count)> Decisions()
    {
        for (var i = 0; i < _decisions.Length; i++)
        {
            yield return (_methods[i / Results.Length], Results[i % Results.Length], Volatile.Read(ref _decisions[i]));
        }
    }

    /// <summary>Drops the cached decisions of <paramref name="userName"/>: its password or rights changed.</summary>
    public void Forget(string userName) => _cache.Forget(userName);

    /// <summary>Drops every cached decision (a password file was reloaded).</summary>
    public void ForgetAll() => _cache.Clear();

    public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.Authentication is { } exchange)
        {
            return SharedReadThread.IsCurrent ? OffSharedThreadAsync(request, cancellationToken) : ExchangeAsync(request, exchange, cancellationToken);
        }

        if (_authenticators.Length == 0)
        {
            return ValueTask.FromResult(Decide(request, AuthenticationResult.NotMine, AnonymousIndex, cacheGeneration: null));
        }

        if (request.UserName is { } userName && _cache.TryGet(userName, request.Password, request.ClientId, out var cached))
        {
            Count(cached.MethodIndex, cached.Decision.Accepted);
            return ValueTask.FromResult(cached.Decision);
        }

        return SharedReadThread.IsCurrent && request.Password is not null
            ? OffSharedThreadAsync(request, cancellationToken)
            : AskAuthenticators(request, cancellationToken);
    }

    public void Dispose()
    {
        foreach (var authenticator in _authenticators)
        {
            (authenticator as IDisposable)?.Dispose();
        }
    }

    /// <summary>
    /// A decision that may hash a password (a CONNECT with one that missed the cache, or an enhanced authentication step),
    /// asked on a thread that reads for every connection (<see cref="SharedReadThread"/>): it is taken on the thread pool
    /// instead.
    /// </summary>
    private async ValueTask<ConnectDecision> OffSharedThreadAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        await Task.Yield();
        return request.Authentication is { } exchange
            ? await ExchangeAsync(request, exchange, cancellationToken).ConfigureAwait(false)
            : await AskAuthenticators(request, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The authenticators in order, after the cache missed.</summary>
    private ValueTask<ConnectDecision> AskAuthenticators(ConnectRequest request, CancellationToken cancellationToken)
    {
        long? generation = _cache.Generation;
        for (var index = 0; ; index++)
        {
            var pending = _authenticators[index].AuthenticateAsync(request, cancellationToken);
            if (!pending.IsCompletedSuccessfully)
            {
                return ContinueAsync(request, index, pending, generation, cancellationToken);
            }

            var answer = Uncached(_authenticators[index], pending.Result, ref generation);
            if (answer.Result != AuthenticationResult.NotMine || index + 1 == _authenticators.Length)
            {
                return ValueTask.FromResult(Decide(request, answer, answer.Result == AuthenticationResult.NotMine ? AnonymousIndex : index, generation));
            }
        }
    }

    /// <summary>The slow path: an authenticator answers later (a database, a directory).</summary>
    private async ValueTask<ConnectDecision> ContinueAsync(ConnectRequest request, int index, ValueTask<AuthenticationAnswer> pending, long? generation,
        CancellationToken cancellationToken)
    {
        var answer = Uncached(_authenticators[index], await pending.ConfigureAwait(false), ref generation);
        while (answer.Result == AuthenticationResult.NotMine && ++index < _authenticators.Length)
        {
            answer = Uncached(_authenticators[index], await _authenticators[index].AuthenticateAsync(request, cancellationToken).ConfigureAwait(false), ref generation);
        }

        return Decide(request, answer, index < _authenticators.Length ? index : AnonymousIndex, generation);
    }

    /// <summary>
    /// A backend that failed, or an authenticator whose decisions are not cached (<see cref="IAuthenticator.DecisionsCached"/>)
    /// deciding: no decision of this CONNECT is cached (<paramref name="generation"/> becomes null); a backend whose policy
    /// passes the client on counts as <see cref="AuthenticationResult.NotMine"/>.
    /// </summary>
    private static AuthenticationAnswer Uncached(IAuthenticator authenticator, AuthenticationAnswer answer, ref long? generation)
    {
        if (answer.Result is AuthenticationResult.Unavailable or AuthenticationResult.UnavailablePassedOn
            || (answer.Result != AuthenticationResult.NotMine && !authenticator.DecisionsCached))
        {
            generation = null;
        }

        return answer.Result == AuthenticationResult.UnavailablePassedOn ? AuthenticationResult.NotMine : answer;
    }

    /// <summary>One step of an enhanced authentication; its end (not a step that continues) is counted under the method.</summary>
    private ValueTask<ConnectDecision> ExchangeAsync(ConnectRequest request, AuthenticationExchange exchange, CancellationToken cancellationToken)
    {
        for (var i = 0; i < _enhanced.Length; i++)
        {
            if (!_enhanced[i].AuthenticationMethods.Contains(exchange.Method))
            {
                continue;
            }

            var methodIndex = _authenticators.Length + i;
            var step = _enhanced[i].StepAsync(request, exchange, cancellationToken);
            if (!step.IsCompletedSuccessfully)
            {
                return CountLaterAsync(step, methodIndex);
            }

            CountEnd(step.Result, methodIndex);
            return step;
        }

        return ValueTask.FromResult(ConnectDecision.BadMethod);
    }

    private async ValueTask<ConnectDecision> CountLaterAsync(ValueTask<ConnectDecision> step, int methodIndex)
    {
        var decision = await step.ConfigureAwait(false);
        CountEnd(decision, methodIndex);
        return decision;
    }

    private void CountEnd(in ConnectDecision decision, int methodIndex)
    {
        if (!decision.Continues)
        {
            Count(methodIndex, decision.Accepted);
        }
    }

    /// <param name="methodIndex">The authenticator that decided; <see cref="AnonymousIndex"/> when none did.</param>
    /// <param name="cacheGeneration">The cache's generation when the authenticators were asked; null: not cached.</param>
    /// <param name="answer">An allow's rights go with the decision (and into the cache with it).</param>
    private ConnectDecision Decide(ConnectRequest request, AuthenticationAnswer answer, int methodIndex, long? cacheGeneration)
    {
        var decision = answer.Result switch
        {
            AuthenticationResult.Allow when answer.Rights is { } rights => _accepted[methodIndex] with { Rights = rights },
            AuthenticationResult.Allow => _accepted[methodIndex],
            AuthenticationResult.Deny => BadCredentials,
            AuthenticationResult.Forbidden => ClientIdRefused,
            AuthenticationResult.Unavailable => BackendUnavailable,
            _ when request.UserName is null || _authenticators.Length == 0 => (request.Connection.AllowAnonymous ?? _allowAnonymous) ? ConnectDecision.Accept
                : request.UserName is null ? AnonymousRefused : BadCredentials,
            _ => BadCredentials,
        };

        if (cacheGeneration is { } generation && request.UserName is { } userName)
        {
            _cache.Store(userName, request.Password, request.ClientId, new CachedDecision(decision, methodIndex), generation);
        }

        Count(methodIndex, decision.Accepted);
        return decision;
    }

    private void Count(int methodIndex, bool accepted) => Interlocked.Increment(ref _decisions[(methodIndex * Results.Length) + (accepted ? 0 : 1)]);
}

/// <summary>A decision kept in the cache, with the index of the method that made it (for counting cache hits).</summary>
internal readonly record struct CachedDecision(ConnectDecision Decision, int MethodIndex);
