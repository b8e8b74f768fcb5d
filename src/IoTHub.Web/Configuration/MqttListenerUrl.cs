using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace IoTHub.Web.Configuration;

/// <summary>
/// One MQTT listener of a broker: the one at "Mqtt:Address"/"Mqtt:Port" (named "default"), or one of
/// "Mqtt:Listeners:{name}:Url". Only <c>tcp://</c> URLs with a literal IP address are known today; the TLS,
/// WebSocket and Unix-socket schemes come with the transport work.
/// </summary>
internal sealed record MqttListenerUrl(string Name, IPAddress Address, int Port)
{
    public const string DefaultName = "default";

    public const string Problem = "is not an MQTT listener URL: tcp://<IP address>:<port>, e.g. tcp://0.0.0.0:1883 or tcp://[::1]:1884.";

    public static bool TryParse(string name, string raw, [NotNullWhen(true)] out MqttListenerUrl? listener)
    {
        listener = null;
        if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || uri.Scheme != "tcp" || uri.Port < 0
            || uri.HostNameType is not (UriHostNameType.IPv4 or UriHostNameType.IPv6)
            || uri.PathAndQuery is not ("" or "/") || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0
            || !IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            return false;
        }

        listener = new MqttListenerUrl(name, address, uri.Port);
        return true;
    }
}
