using System.Collections.Concurrent;
using System.Text;
using IoTHub.Broker.Security;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// The authentication chain (issue 15): authenticators asked in order, "not mine" falls through, the anonymous rules
/// when none knows the client, cached decisions (hit, miss, expiry, dropped per user), and the count per method.
/// </summary>
public sealed class AuthenticationChainTests
{
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);

    [Fact]
    public async Task Authenticators_are_asked_in_order_and_not_mine_falls_through_to_the_next()
    {
        var first = new UserList("first", ("alice", "a-pass"));
        var second = new UserList("second", ("bob", "b-pass"), ("alice", "other"));
        var chain = NewChain([first, second]);

        Assert.True((await chain.AuthenticateAsync(Request("bob", "b-pass"), default)).Accepted);
        Assert.Equal((1, 1), (first.Asked, second.Asked));

        // alice belongs to the first one: its denial ends the chain, the second (which would allow "other") is not asked.
        var denied = await chain.AuthenticateAsync(Request("alice", "other"), default);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, denied.ReasonCode);
        Assert.Equal((2, 1), (first.Asked, second.Asked));

        Assert.Contains(("first", "deny", 1L), chain.Decisions());
        Assert.Contains(("second", "allow", 1L), chain.Decisions());
    }

    [Fact]
    public async Task A_user_no_authenticator_knows_has_bad_credentials_and_anonymous_follows_AllowAnonymous()
    {
        var refusing = NewChain([new UserList("list", ("alice", "a-pass"))], allowAnonymous: false);
        var allowing = NewChain([new UserList("list", ("alice", "a-pass"))], allowAnonymous: true);

        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await refusing.AuthenticateAsync(Request("mallory", "x"), default)).ReasonCode);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await allowing.AuthenticateAsync(Request("mallory", "x"), default)).ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, (await refusing.AuthenticateAsync(Request(null, null), default)).ReasonCode);
        Assert.True((await allowing.AuthenticateAsync(Request(null, null), default)).Accepted);
        Assert.Equal(
            [("list", "allow", 0L), ("list", "deny", 0L), ("anonymous", "allow", 0L), ("anonymous", "deny", 2L)],
            refusing.Decisions());
    }

    [Fact]
    public async Task Without_authenticators_AllowAnonymous_alone_decides()
    {
        var open = NewChain([], allowAnonymous: true);
        var closed = NewChain([], allowAnonymous: false);

        Assert.True((await open.AuthenticateAsync(Request("anyone", "anything"), default)).Accepted);
        Assert.True((await open.AuthenticateAsync(Request(null, null), default)).Accepted);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await closed.AuthenticateAsync(Request("anyone", "anything"), default)).ReasonCode);
        Assert.Equal(ReasonCode.NotAuthorized, (await closed.AuthenticateAsync(Request(null, null), default)).ReasonCode);
        Assert.Equal(0, open.Cache.Count);
    }

    /// <summary>A listener's own AllowAnonymous (as Mosquitto's per_listener_settings) replaces the chain's, both ways.</summary>
    [Fact]
    public async Task A_listeners_AllowAnonymous_replaces_the_chains()
    {
        var open = NewChain([], allowAnonymous: true);
        var closed = NewChain([], allowAnonymous: false);
        static ConnectRequest Anonymous(bool listener) =>
            Request(null, null) with { Connection = PipeClient.Connection with { AllowAnonymous = listener } };

        Assert.Equal(ReasonCode.NotAuthorized, (await open.AuthenticateAsync(Anonymous(false), default)).ReasonCode);
        Assert.True((await closed.AuthenticateAsync(Anonymous(true), default)).Accepted);
    }

    [Fact]
    public async Task A_decision_is_cached_per_user_password_and_client_id_until_it_expires()
    {
        var list = new UserList("list", ("alice", "a-pass"));
        var chain = NewChain([list], cacheDuration: TimeSpan.FromSeconds(60));

        var first = chain.AuthenticateAsync(Request("alice", "a-pass", "c1"), default);
        var hit = chain.AuthenticateAsync(Request("alice", "a-pass", "c1"), default);
        Assert.True(hit.IsCompletedSuccessfully, "a cache hit answers synchronously");
        Assert.True((await first).Accepted && (await hit).Accepted);
        Assert.Equal(1, list.Asked);

        // Another client id, another password: each a miss of its own. A denial is cached too.
        await chain.AuthenticateAsync(Request("alice", "a-pass", "c2"), default);
        await chain.AuthenticateAsync(Request("alice", "wrong", "c1"), default);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("alice", "wrong", "c1"), default)).ReasonCode);
        Assert.Equal(3, list.Asked);
        Assert.Contains(("list", "allow", 3L), chain.Decisions()); // cache hits are decisions too
        Assert.Contains(("list", "deny", 2L), chain.Decisions());

        _time.Advance(TimeSpan.FromSeconds(59));
        await chain.AuthenticateAsync(Request("alice", "a-pass", "c1"), default);
        Assert.Equal(3, list.Asked);

        _time.Advance(TimeSpan.FromSeconds(1));
        await chain.AuthenticateAsync(Request("alice", "a-pass", "c1"), default);
        Assert.Equal(4, list.Asked);
    }

    [Fact]
    public async Task A_missing_password_and_an_empty_one_are_different_keys()
    {
        var list = new UserList("list", ("alice", ""));
        var chain = NewChain([list]);

        Assert.True((await chain.AuthenticateAsync(Request("alice", ""), default)).Accepted);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("alice", null), default)).ReasonCode);
        Assert.Equal(2, list.Asked);
    }

    [Fact]
    public async Task Forgetting_a_user_drops_only_that_users_decisions_and_ForgetAll_drops_every_one()
    {
        var list = new UserList("list", ("alice", "a-pass"), ("bob", "b-pass"));
        var chain = NewChain([list]);
        await chain.AuthenticateAsync(Request("alice", "a-pass"), default);
        await chain.AuthenticateAsync(Request("bob", "b-pass"), default);

        list.Remove("alice");
        chain.Forget("alice");

        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("alice", "a-pass"), default)).ReasonCode);
        Assert.True((await chain.AuthenticateAsync(Request("bob", "b-pass"), default)).Accepted);
        Assert.Equal(3, list.Asked);

        chain.ForgetAll();
        await chain.AuthenticateAsync(Request("bob", "b-pass"), default);
        Assert.Equal(4, list.Asked);
    }

    [Fact]
    public async Task A_decision_made_while_the_user_changed_is_not_cached()
    {
        var slow = new UserList("slow", ("alice", "a-pass")) { Pending = new TaskCompletionSource<AuthenticationAnswer>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var chain = NewChain([slow]);

        var deciding = chain.AuthenticateAsync(Request("alice", "a-pass"), default);
        Assert.False(deciding.IsCompleted);
        chain.Forget("alice"); // e.g. the password changed while the old one was being checked
        slow.Pending.SetResult(AuthenticationResult.Allow);
        Assert.True((await deciding).Accepted);

        slow.Pending = null;
        await chain.AuthenticateAsync(Request("alice", "a-pass"), default);
        Assert.Equal(2, slow.Asked);
    }

    [Fact]
    public async Task An_authenticator_that_answers_later_is_awaited_and_the_chain_goes_on_after_it()
    {
        var slow = new UserList("slow") { Pending = new TaskCompletionSource<AuthenticationAnswer>(TaskCreationOptions.RunContinuationsAsynchronously) };
        var next = new UserList("next", ("bob", "b-pass"));
        var chain = NewChain([slow, next]);

        var deciding = chain.AuthenticateAsync(Request("bob", "b-pass"), default);
        Assert.Equal(0, next.Asked);
        slow.Pending.SetResult(AuthenticationResult.NotMine);

        Assert.True((await deciding).Accepted);
        Assert.Equal(1, next.Asked);
    }

    [Fact]
    public async Task The_rights_an_authenticator_grants_go_with_its_decision_and_with_the_cached_one()
    {
        var rights = new ClientRights(["operators"], Superuser: false);
        var granting = new UserList("granting", ("alice", "a-pass")) { Rights = rights };
        var chain = NewChain([granting]);

        var decided = await chain.AuthenticateAsync(Request("alice", "a-pass"), default);
        var cached = await chain.AuthenticateAsync(Request("alice", "a-pass"), default);

        Assert.Equal(1, granting.Asked);
        Assert.Same(rights, decided.Rights);
        Assert.Same(rights, cached.Rights);
        Assert.Equal("granting", cached.Method);
        Assert.Null((await chain.AuthenticateAsync(Request("alice", "wrong"), default)).Rights);
    }

    [Fact]
    public async Task The_cache_never_holds_the_password()
    {
        var password = "correct horse battery staple";
        var chain = NewChain([new UserList("list", ("alice", password))]);
        await chain.AuthenticateAsync(Request("alice", password), default);

        Assert.Equal(1, chain.Cache.Count);
        Assert.DoesNotContain(password, Describe(chain.Cache), StringComparison.Ordinal);
    }

    // 3.1.1 [MQTT-3.2.2-5] and 5.0 [MQTT-3.2.2-7], [MQTT-3.1.4-2]: a refused CONNECT gets its CONNACK, then the connection is closed.
    // 3.1.1 has no reason codes: 0x86 is sent as return code 4 (bad user name or password), 0x87 as 5 (not authorized).
    [Theory]
    [InlineData(MqttProtocolVersion.V500, "alice", "wrong", ReasonCode.BadUserNameOrPassword, ConnectReturnCode.BadUserNameOrPassword)]
    [InlineData(MqttProtocolVersion.V311, "alice", "wrong", ReasonCode.BadUserNameOrPassword, ConnectReturnCode.BadUserNameOrPassword)]
    [InlineData(MqttProtocolVersion.V500, null, null, ReasonCode.NotAuthorized, ConnectReturnCode.NotAuthorized)]
    [InlineData(MqttProtocolVersion.V311, null, null, ReasonCode.NotAuthorized, ConnectReturnCode.NotAuthorized)]
    public async Task A_broker_with_the_chain_refuses_with_the_reason_code_of_the_version(MqttProtocolVersion version, string? userName, string? password,
        ReasonCode reasonCode, ConnectReturnCode returnCode)
    {
        var log = new CapturingLogger<MqttBroker>();
        await using var broker = new MqttBroker(new BrokerOptions(), log, _time) { Authenticator = NewChain([new UserList("list", ("alice", "a-pass"))]) };
        broker.Start();

        for (var attempt = 0; attempt < 3; attempt++)
        {
            await using var client = PipeClient.Open(broker, version);
            var connAck = await client.ConnectRawAsync(new ConnectPacket
            {
                ProtocolVersion = version,
                ClientId = "device-1",
                UserName = userName,
                Password = password is null ? null : Encoding.UTF8.GetBytes(password),
            });

            Assert.Equal(reasonCode, connAck.ReasonCode);
            Assert.Equal(returnCode, ConnectReturnCodes.FromReasonCode(connAck.ReasonCode));
            await client.ExpectClosedAsync();
        }

        await using var right = PipeClient.Open(broker, version);
        Assert.Equal(ReasonCode.Success, (await right.ConnectRawAsync(new ConnectPacket
        {
            ProtocolVersion = version, ClientId = "device-2", UserName = "alice", Password = "a-pass"u8.ToArray(),
        })).ReasonCode);

        // The same client refused three times within a minute is logged once, with its user name and never a password.
        var refusals = log.Lines.Where(static l => l.Contains("Refused CONNECT", StringComparison.Ordinal)).ToList();
        Assert.Single(refusals);
        Assert.Contains("client id 'device-1'", refusals[0], StringComparison.Ordinal);
        Assert.Contains($"user '{userName ?? "(null)"}'", refusals[0], StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", refusals[0], StringComparison.Ordinal);
        _time.Advance(TimeSpan.FromMinutes(1));
        await using var again = PipeClient.Open(broker, version);
        await again.ConnectRawAsync(new ConnectPacket { ProtocolVersion = version, ClientId = "device-1", UserName = userName, Password = password is null ? null : Encoding.UTF8.GetBytes(password) });
        Assert.Equal(2, log.Lines.Count(static l => l.Contains("Refused CONNECT", StringComparison.Ordinal)));
        Assert.Equal(4, broker.Statistics.AuthenticationFailures);
    }

    private AuthenticationChain NewChain(IAuthenticator[] authenticators, bool allowAnonymous = false, TimeSpan? cacheDuration = null) =>
        new(authenticators, allowAnonymous, cacheDuration ?? TimeSpan.FromSeconds(60), _time);

    internal static ConnectRequest Request(string? userName, string? password, string clientId = "client") =>
        new(clientId, userName, password is null ? null : Encoding.UTF8.GetBytes(password), MqttProtocolVersion.V500, PipeClient.Connection);

    /// <summary>Every string and byte array reachable from the cache's fields, as text: where a password would show.</summary>
    private static string Describe(object root)
    {
        var text = new StringBuilder();
        var seen = new HashSet<object>(ReferenceEqualityComparer.Instance);
        var pending = new Stack<object>([root]);
        while (pending.TryPop(out var item))
        {
            if (!seen.Add(item))
            {
                continue;
            }

            switch (item)
            {
                case string s:
                    text.AppendLine(s);
                    continue;
                case byte[] bytes:
                    text.AppendLine(Encoding.UTF8.GetString(bytes));
                    continue;
                case System.Collections.IEnumerable items:
                    foreach (var element in items)
                    {
                        if (element is not null)
                        {
                            pending.Push(element);
                        }
                    }

                    break;
            }

            foreach (var field in item.GetType().GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
            {
                if (!field.FieldType.IsPrimitive && field.GetValue(item) is { } value)
                {
                    pending.Push(value);
                }
            }
        }

        return text.ToString();
    }

    /// <summary>An authenticator over a list of users and plain passwords, counting how often it is asked; optionally answering later.</summary>
    private sealed class UserList(string method, params (string User, string Password)[] users) : IAuthenticator
    {
        private readonly ConcurrentDictionary<string, string> _users = new(users.ToDictionary(static u => u.User, static u => u.Password));
        private int _asked;

        public string Method => method;

        public int Asked => Volatile.Read(ref _asked);

        public TaskCompletionSource<AuthenticationAnswer>? Pending { get; set; }

        /// <summary>What an allow grants; null: nothing.</summary>
        public ClientRights? Rights { get; init; }

        public void Remove(string user) => _users.TryRemove(user, out _);

        public ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _asked);
            if (Pending is { } pending)
            {
                return new ValueTask<AuthenticationAnswer>(pending.Task);
            }

            if (request.UserName is null || !_users.TryGetValue(request.UserName, out var password))
            {
                return ValueTask.FromResult<AuthenticationAnswer>(AuthenticationResult.NotMine);
            }

            return ValueTask.FromResult(request.Password is { } given && Encoding.UTF8.GetString(given) == password
                ? new AuthenticationAnswer(AuthenticationResult.Allow, Rights)
                : new AuthenticationAnswer(AuthenticationResult.Deny));
        }
    }
}
