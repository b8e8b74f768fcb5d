using System.Net;
using IoTHub.Web.Configuration;

namespace IoTHub.Web.Transports;

/// <summary>
/// The proxies whose word about a client's address is believed: "TrustedProxies" of a listener, by default
/// "Mqtt:TrustedProxies". WebSocket listeners read X-Forwarded-For from them, PROXY protocol listeners the header.
/// </summary>
internal static class TrustedProxies
{
    public const string Key = "TrustedProxies";

    public const string Problem = "is not an IP address or network (10.0.0.1, 10.1.0.0/16, fd00::/8).";

    /// <summary>The listener's own list, or <paramref name="defaults"/> when it has none.</summary>
    public static IReadOnlyList<IPNetwork> Read(SectionReader reader, IReadOnlyList<IPNetwork> defaults)
    {
        var own = reader.Items<IPNetwork>(Key, TryParseNetwork, Problem);
        return own.Count > 0 ? own : defaults;
    }

    /// <summary>An IP address (a network of one) or a network in CIDR notation.</summary>
    public static bool TryParseNetwork(string raw, out IPNetwork network)
    {
        if (IPAddress.TryParse(raw, out var address))
        {
            network = new IPNetwork(address, address.GetAddressBytes().Length * 8);
            return true;
        }

        return IPNetwork.TryParse(raw, out network);
    }

    /// <summary>Whether <paramref name="address"/> (IPv4 in IPv6 form counts as IPv4) is in one of <paramref name="networks"/>.</summary>
    public static bool Contains(IReadOnlyList<IPNetwork> networks, IPAddress address)
    {
        address = Unmapped(address);
        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    public static IPAddress Unmapped(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
