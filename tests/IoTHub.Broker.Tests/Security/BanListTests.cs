using System.Net;
using IoTHub.Broker.Connections;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Bans;
using IoTHub.Broker.Security.Certificates;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using Microsoft.Extensions.Time.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// Brute-force protection (issue 15) on a fake clock: failures counted per address and per user name within the window,
/// the ban at the limit and its end, what a success forgets, lifting, one log line per ban, and the bounds of the tables.
/// </summary>
public sealed class BanListTests
{
    private static readonly BanOptions Options = new() { MaxFailures = 3, Window = TimeSpan.FromMinutes(1), Duration = TimeSpan.FromMinutes(5), Capacity = 100 };

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly CapturingLogger<BanList> _log = new();

    [Fact]
    public void The_limit_within_the_window_bans_the_address_and_the_user_until_the_duration_ends()
    {
        var bans = New();
        var alice = Request("alice", "192.0.2.1");
        bans.Failed(alice);
        bans.Failed(alice);
        Assert.False(bans.IsBanned(alice));
        Assert.Empty(bans.Active());

        bans.Failed(alice);
        Assert.True(bans.IsBanned(alice));
        Assert.True(bans.IsBanned(Request("alice", "192.0.2.99"))); // the user, from anywhere
        Assert.True(bans.IsBanned(Request("bob", "192.0.2.1"))); // the address, whoever
        Assert.False(bans.IsBanned(Request("bob", "192.0.2.2")));
        var until = _time.GetUtcNow() + Options.Duration;
        Assert.Equal([new ActiveBan(BanKind.Address, "192.0.2.1", 3, until), new ActiveBan(BanKind.User, "alice", 3, until)], bans.Active());
        Assert.Equal((1L, 1L, 1, 1), (bans.Started(BanKind.Address), bans.Started(BanKind.User), bans.InForce(BanKind.Address), bans.InForce(BanKind.User)));

        // One warning line per ban, with what, how many and until when; never a password.
        var lines = _log.Entries.Where(static e => e.EventId == 1120).Select(static e => e.Message).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains("address 192.0.2.1 banned until 2026-03-01 12:05:00Z after 3 failed logins within 00:01:00", lines[0], StringComparison.Ordinal);
        Assert.Contains("user alice banned until", lines[1], StringComparison.Ordinal);

        _time.Advance(Options.Duration - TimeSpan.FromSeconds(1));
        Assert.True(bans.IsBanned(alice));
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(bans.IsBanned(alice));
        Assert.Empty(bans.Active());
        Assert.Equal(0, bans.InForce(BanKind.Address));

        // After a ban, counting starts over.
        bans.Failed(alice);
        Assert.False(bans.IsBanned(alice));
    }

    [Fact]
    public void Failures_spread_wider_than_the_window_do_not_ban()
    {
        var bans = New();
        var client = Request("carol", "192.0.2.3");
        for (var i = 0; i < 10; i++)
        {
            bans.Failed(client);
            bans.Failed(client);
            _time.Advance(Options.Window);
        }

        Assert.False(bans.IsBanned(client));
        Assert.Equal(0L, bans.Started(BanKind.Address));
    }

    [Fact]
    public void A_success_forgets_the_user_names_failures_but_not_the_addresss_and_does_not_lift_a_ban()
    {
        var bans = New();
        var wrong = Request("dave", "192.0.2.4");
        bans.Failed(wrong);
        bans.Failed(wrong);
        bans.Succeeded(wrong);
        bans.Failed(Request("erin", "192.0.2.4"));

        // The address reached 3, dave's count started over at his success.
        Assert.True(bans.IsBanned(Request(null, "192.0.2.4")));
        Assert.False(bans.IsBanned(Request("dave", "192.0.2.5")));

        bans.Failed(Request("frank", "192.0.2.6"));
        bans.Failed(Request("frank", "192.0.2.7"));
        bans.Failed(Request("frank", "192.0.2.8"));
        bans.Succeeded(Request("frank", "192.0.2.9"));
        Assert.True(bans.IsBanned(Request("frank", "192.0.2.9")));
    }

    [Fact]
    public void A_lifted_ban_ends_at_once_and_its_count_starts_over()
    {
        var bans = New();
        var client = Request("grace", "2001:db8::1");
        for (var i = 0; i < 3; i++)
        {
            bans.Failed(client);
        }

        Assert.False(bans.Lift(BanKind.User, "nobody"));
        Assert.False(bans.Lift(BanKind.Address, "not an address"));
        Assert.True(bans.Lift(BanKind.Address, "2001:db8::1"));
        Assert.False(bans.Lift(BanKind.Address, "2001:db8::1"));
        Assert.True(bans.Lift(BanKind.User, "grace"));
        Assert.False(bans.IsBanned(client));

        bans.Failed(client);
        bans.Failed(client);
        Assert.False(bans.IsBanned(client));
    }

    [Fact]
    public void An_ipv4_client_of_a_dual_stack_listener_is_the_same_address()
    {
        var bans = New();
        for (var i = 0; i < 3; i++)
        {
            bans.Failed(Request(null, "::ffff:192.0.2.10"));
        }

        Assert.True(bans.IsBanned(Request(null, "192.0.2.10")));
        Assert.Equal("192.0.2.10", Assert.Single(bans.Active()).Value);
    }

    [Fact]
    public void A_client_authenticated_by_its_certificate_is_held_back_by_its_address_only()
    {
        var bans = New();
        for (var i = 0; i < 3; i++)
        {
            bans.Failed(Request("device-1", $"192.0.2.{20 + i}"));
        }

        var byCertificate = new ConnectRequest("c", "device-1", null, MqttProtocolVersion.V500,
            new ConnectionInfo("tls", TransportKind.Tls, null, new IPEndPoint(IPAddress.Parse("192.0.2.30"), 1)) { CertificateIdentity = CertificateIdentity.CommonName });
        Assert.False(bans.IsBanned(byCertificate));
        bans.Failed(byCertificate);
        Assert.Equal((4, 1), bans.Tracked); // counted for 192.0.2.30 too; the user table still holds device-1 only
    }

    [Fact]
    public void A_flood_from_many_addresses_stays_within_the_capacity_and_keeps_the_bans()
    {
        var bans = New();
        for (var i = 0; i < 3; i++)
        {
            bans.Failed(Request(null, "198.51.100.1"));
        }

        for (var i = 0; i < 5_000; i++)
        {
            bans.Failed(Request(null, Address(i)));
            Assert.InRange(bans.Tracked.Addresses, 1, Options.Capacity);
        }

        Assert.True(bans.IsBanned(Request(null, "198.51.100.1")));

        // A new brute force is still counted and banned in the flood.
        for (var i = 0; i < 3; i++)
        {
            bans.Failed(Request(null, "198.51.100.2"));
        }

        Assert.True(bans.IsBanned(Request(null, "198.51.100.2")));
    }

    [Fact]
    public void A_table_full_of_bans_tracks_no_new_address_until_bans_end()
    {
        var bans = New();
        for (var i = 0; i < Options.Capacity; i++)
        {
            for (var failure = 0; failure < 3; failure++)
            {
                bans.Failed(Request(null, Address(i)));
            }
        }

        Assert.Equal(Options.Capacity, bans.InForce(BanKind.Address));
        bans.Failed(Request(null, "198.51.100.3"));
        Assert.Equal(Options.Capacity, bans.Tracked.Addresses);

        _time.Advance(Options.Duration);
        bans.Failed(Request(null, "198.51.100.3"));
        Assert.Equal(1, bans.Tracked.Addresses);
    }

    private static string Address(int i) => $"10.{i / 65536 % 256}.{i / 256 % 256}.{i % 256}";

    private BanList New() => new(Options, _time, _log);

    private static ConnectRequest Request(string? userName, string address) =>
        new("client", userName, null, MqttProtocolVersion.V500, new ConnectionInfo("tcp", TransportKind.Tcp, null, new IPEndPoint(IPAddress.Parse(address), 50000)));
}
