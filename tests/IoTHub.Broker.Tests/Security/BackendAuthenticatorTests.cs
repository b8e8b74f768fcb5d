using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;
using static IoTHub.Broker.Tests.Security.AuthenticationChainTests;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// The common part of authentication backends (issue 18): the timeout on the broker's clock, the failure policies in the
/// chain (never cached), the failing state and its log: once when failures start, at most once a minute while they go
/// on, once when the backend answers again. The webhook against a real HTTP server: IoTHub.Interop.Tests' WebhookTests.
/// </summary>
public sealed class BackendAuthenticatorTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly CapturingLogger<BackendAuthenticator> _log = new();
    private readonly Backend _backend = new();

    [Fact]
    public async Task A_question_not_answered_within_the_timeout_is_a_failure()
    {
        var authenticator = NewAuthenticator(BackendFailurePolicy.Deny);
        _backend.Answer = NeverAnswers;

        var asking = authenticator.AuthenticateAsync(Request("alice", "pw"), default).AsTask();
        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(asking.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(0.1));

        Assert.Equal(AuthenticationResult.Unavailable, await asking.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal((1, 0), (authenticator.Timeouts, authenticator.Errors));
        Assert.True(authenticator.Failing);
        Assert.Contains("no answer within 5 s", authenticator.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_broker_stopping_is_no_failure_of_the_backend()
    {
        var authenticator = NewAuthenticator(BackendFailurePolicy.Deny);
        _backend.Answer = NeverAnswers;
        using var stopping = new CancellationTokenSource();

        var asking = authenticator.AuthenticateAsync(Request("alice", "pw"), stopping.Token).AsTask();
        await stopping.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking);
        Assert.False(authenticator.Failing);
        Assert.Equal((0, 0), (authenticator.Timeouts, authenticator.Errors));
    }

    [Fact]
    public async Task Failures_are_logged_when_they_start_once_a_minute_while_they_last_and_when_they_end()
    {
        var authenticator = NewAuthenticator(BackendFailurePolicy.Deny);
        _backend.Answer = static _ => throw new AuthenticationBackendException("answered 503 Service Unavailable.");

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(AuthenticationResult.Unavailable, await authenticator.AuthenticateAsync(Request("alice", "secret-pw"), default));
        }

        Assert.Equal([1160], _log.Entries.Select(static e => e.EventId));
        Assert.Contains("backend-0 (test http://backend/) fails: answered 503 Service Unavailable. The clients it is asked about are refused with 0x88",
            _log.Lines.Single(), StringComparison.Ordinal);

        _time.Advance(BackendAuthenticator.ReportInterval);
        await authenticator.AuthenticateAsync(Request("alice", "secret-pw"), default);
        Assert.Equal([1160, 1161], _log.Entries.Select(static e => e.EventId));
        Assert.Contains("5 more failures in the last 00:01:00", _log.Lines.Last(), StringComparison.Ordinal);
        Assert.Contains("(6 failed in a row, for 60 s)", authenticator.Problem, StringComparison.Ordinal);

        _backend.Answer = static _ => Task.FromResult<AuthenticationAnswer>(AuthenticationResult.Deny);
        Assert.Equal(AuthenticationResult.Deny, await authenticator.AuthenticateAsync(Request("alice", "secret-pw"), default));
        Assert.Equal([1160, 1161, 1162], _log.Entries.Select(static e => e.EventId));
        Assert.Contains("answers again after 00:01:00 and 6 failures", _log.Lines.Last(), StringComparison.Ordinal);
        Assert.False(authenticator.Failing);
        Assert.Null(authenticator.Problem);
        Assert.Equal(6, authenticator.Errors);
        Assert.DoesNotContain(_log.Lines, static l => l.Contains("secret-pw", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_chain_caches_backend_decisions_but_not_those_made_while_it_fails()
    {
        var chain = new AuthenticationChain([NewAuthenticator(BackendFailurePolicy.Deny)], allowAnonymous: false, TimeSpan.FromMinutes(1), _time);
        _backend.Answer = static _ => throw new HttpRequestException("Connection refused");

        var refused = await chain.AuthenticateAsync(Request("alice", "pw"), default);
        Assert.Equal((ReasonCode.ServerUnavailable, "the authentication backend is unavailable"), (refused.ReasonCode, refused.Reason));
        Assert.Equal(0, chain.Cache.Count);
        Assert.Contains(("test", "deny", 1L), chain.Decisions());

        _backend.Answer = static _ => Task.FromResult<AuthenticationAnswer>(AuthenticationResult.Allow);
        Assert.True((await chain.AuthenticateAsync(Request("alice", "pw"), default)).Accepted);
        Assert.True((await chain.AuthenticateAsync(Request("alice", "pw"), default)).Accepted);
        Assert.Equal(2, _backend.Asked); // the second allow came from the cache
    }

    [Fact]
    public async Task NotMine_passes_the_client_on_and_the_chain_does_not_cache_what_the_next_one_decided()
    {
        var next = new Backend { Answer = static _ => Task.FromResult<AuthenticationAnswer>(AuthenticationResult.Allow) };
        var chain = new AuthenticationChain([NewAuthenticator(BackendFailurePolicy.NotMine),
            new BackendAuthenticator(next, "backend-1", TimeSpan.FromSeconds(5), BackendFailurePolicy.Deny, time: _time)], allowAnonymous: false,
            TimeSpan.FromMinutes(1), _time);
        _backend.Answer = static _ => throw new AuthenticationBackendException("answered 500");

        Assert.True((await chain.AuthenticateAsync(Request("alice", "pw"), default)).Accepted);
        Assert.True((await chain.AuthenticateAsync(Request("alice", "pw"), default)).Accepted);
        Assert.Equal((2, 2), (_backend.Asked, next.Asked));
        Assert.Equal(0, chain.Cache.Count);
    }

    /// <summary>A backend that answers only when its question is cancelled.</summary>
    private static async Task<AuthenticationAnswer> NeverAnswers(CancellationToken token)
    {
        await Task.Delay(Timeout.Infinite, token);
        return AuthenticationResult.Allow;
    }

    private BackendAuthenticator NewAuthenticator(BackendFailurePolicy policy) =>
        new(_backend, "backend-0", BackendAuthenticator.DefaultTimeout, policy, _log, _time);

    /// <summary>A backend that answers as the test says and counts the questions.</summary>
    private sealed class Backend : IAuthenticationBackend
    {
        private int _asked;

        public Func<CancellationToken, Task<AuthenticationAnswer>> Answer { get; set; } = static _ => Task.FromResult<AuthenticationAnswer>(AuthenticationResult.NotMine);

        public int Asked => Volatile.Read(ref _asked);

        public string Method => "test";

        public string Description => "http://backend/";

        public Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            return Answer(cancellationToken);
        }
    }
}
