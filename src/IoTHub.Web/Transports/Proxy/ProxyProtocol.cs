using System.Net;
using IoTHub.Web.Configuration;
using Microsoft.AspNetCore.Connections;

namespace IoTHub.Web.Transports.Proxy;

/// <summary>
/// "ProxyProtocol=true" on a listener: every connection starts with a PROXY protocol header. When trusted proxies are set
/// (the listener's "TrustedProxies", else "Mqtt:TrustedProxies"), only connections from them are taken; without any, every
/// peer is believed, so the port must be one only the proxy can reach. Connections over a Unix socket come from this
/// machine and are always believed.
/// </summary>
internal sealed record ProxyProtocolSettings(IReadOnlyList<IPNetwork> TrustedProxies)
{
    /// <summary>The settings when the section says ProxyProtocol=true; null otherwise.</summary>
    public static ProxyProtocolSettings? Read(SectionReader reader, IReadOnlyList<IPNetwork> defaultProxies) =>
        reader.Flag("ProxyProtocol", false) ? new ProxyProtocolSettings(Transports.TrustedProxies.Read(reader, defaultProxies)) : null;

    public bool Trusts(EndPoint? peer) => peer is not IPEndPoint ip || TrustedProxies.Count == 0 || Transports.TrustedProxies.Contains(TrustedProxies, ip.Address);
}

/// <summary>
/// Reads the PROXY protocol header (v1 or v2) as a connection middleware, before TLS, and makes the client's address the
/// connection's remote end, which ConnectionInfo, the logs, the clients API and X-Forwarded-For checks then see. The local
/// end stays the listener's own. A peer that is not trusted, a bad header, or none within the connect timeout closes the
/// connection with a log line saying why (rate-limited). Only listeners that ask for it pay for it.
/// </summary>
internal sealed class ProxyProtocolReader(ProxyProtocolSettings settings, TimeSpan timeout, RefusedConnections refused)
{
    public async Task OnConnectionAsync(ConnectionContext connection, ConnectionDelegate next)
    {
        if (!settings.Trusts(connection.RemoteEndPoint))
        {
            refused.Log(connection, "it does not come from a trusted proxy (TrustedProxies)");
            return;
        }

        var input = connection.Transport.Input;
        ProxyHeader header;
        using (var deadline = new CancellationTokenSource(timeout))
        {
            try
            {
                while (true)
                {
                    var result = await input.ReadAsync(deadline.Token);
                    var buffer = result.Buffer;
                    var status = ProxyHeader.TryRead(buffer, out header, out var end, out var problem);
                    if (status == ProxyHeaderStatus.Parsed)
                    {
                        // The client's bytes after the header stay unexamined: the next reader gets them at once.
                        input.AdvanceTo(end);
                        break;
                    }

                    input.AdvanceTo(buffer.Start, buffer.End);
                    if (status == ProxyHeaderStatus.Invalid || result.IsCompleted)
                    {
                        refused.Log(connection, status == ProxyHeaderStatus.Invalid ? problem : "it ended before a complete PROXY protocol header");
                        return;
                    }
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                refused.Log(connection, $"no complete PROXY protocol header came within {timeout.TotalSeconds:0.###} s (Mqtt:ConnectTimeout)");
                return;
            }
        }

        if (header.Source is { } client)
        {
            connection.RemoteEndPoint = client;
        }

        await next(connection);
    }
}
