using IoTHub.Broker.Connect;
using IoTHub.Broker.Diagnostics;
using IoTHub.Broker.Sessions;
using IoTHub.Broker.Security;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Connections;

/// <summary>
/// MQTT 5.0 enhanced authentication (§4.12): the AUTH exchange that a CONNECT with an Authentication Method starts
/// (before CONNACK, the client may send only AUTH), and re-authentication, which a connected client starts with AUTH
/// 0x19 and which ends with AUTH 0x00, or DISCONNECT 0x87 when it fails [MQTT-4.12.1-2]. The steps are the
/// authenticator's (<see cref="AuthenticationExchange"/>); this part checks the packets' turns and methods.
/// </summary>
internal sealed partial class MqttConnection
{
    /// <summary>The exchange in progress, of CONNECT or of a re-authentication; read-loop state.</summary>
    private AuthenticationExchange? _exchange;

    /// <summary>The CONNECT whose exchange is in progress, with what admission settled about it.</summary>
    private (ConnectPacket Connect, AdmittedConnect Admitted)? _exchangeConnect;

    /// <summary>The Authentication Method of CONNECT, once accepted; null: the client may send no AUTH [MQTT-4.12.0-7].</summary>
    private string? _authenticationMethod;

    /// <summary>When the re-authentication in progress started (0: none), for <see cref="BrokerOptions.AuthenticationTimeout"/>.</summary>
    private long _reauthenticationStartedAt;

    /// <summary>An AUTH packet: the next step of CONNECT's exchange, or of a re-authentication.</summary>
    private void HandleAuth(AuthPacket auth)
    {
        if (_session is null)
        {
            var (connect, admitted) = _exchangeConnect!.Value;
            var exchange = _exchange!;
            CheckMethod(auth, exchange.Method);
            if (auth.ReasonCode != ReasonCode.ContinueAuthentication)
            {
                // [MQTT-4.12.0-3] the client answers the server's AUTH with AUTH 0x18.
                throw new MqttProtocolException(ReasonCode.ProtocolError, "AUTH before CONNACK without Continue authentication (0x18)");
            }

            exchange.Data = auth.Properties!.AuthenticationData;
            Authenticate(new ConnectRequest(admitted.ClientId, admitted.UserName, connect.Password, _version, Info) { Authentication = exchange },
                connect, admitted);
            return;
        }

        CheckMethod(auth, _authenticationMethod);
        switch (auth.ReasonCode)
        {
            case ReasonCode.ReAuthenticate when _exchange is null:
                // [MQTT-4.12.1-1] with the method of CONNECT (checked above).
                _exchange = new AuthenticationExchange(_authenticationMethod!, reauthentication: true);
                Volatile.Write(ref _reauthenticationStartedAt, _broker.Time.GetTimestamp());
                break;
            case ReasonCode.ContinueAuthentication when _exchange is not null:
                break;
            default:
                throw new MqttProtocolException(ReasonCode.ProtocolError, _exchange is null
                    ? "AUTH without Re-authenticate (0x19) outside an exchange"
                    : "AUTH without Continue authentication (0x18) during a re-authentication");
        }

        _exchange.Data = auth.Properties!.AuthenticationData;
        Authenticate(new ConnectRequest(ClientId, UserName, null, _version, Info) { Authentication = _exchange }, connect: null, default);
    }

    /// <summary>
    /// The answer to a step of a re-authentication: AUTH 0x18 to go on, AUTH 0x00 when it succeeded, else DISCONNECT 0x87
    /// Not authorized (0x80 when the authenticator failed) and the connection closes [MQTT-4.12.1-2].
    /// </summary>
    private void FinishReauthentication(ConnectDecision decision)
    {
        var method = _exchange!.Method;
        if (decision.Continues)
        {
            SendAuth(ReasonCode.ContinueAuthentication, method, decision.AuthenticationData);
            return;
        }

        _exchange = null;
        Volatile.Write(ref _reauthenticationStartedAt, 0);
        if (decision.Accepted)
        {
            AuthenticatedBy = decision.Method;
            SendAuth(ReasonCode.Success, method, decision.AuthenticationData);
            return;
        }

        _broker.Statistics.AuthenticationFailed();
        var reason = "re-authentication failed: " + decision.Reason;
        BrokerLog.ProtocolViolation(Logger, ClientId, Endpoint, decision.ReasonCode, reason);
        Close(decision.ReasonCode == ReasonCode.ServerUnavailable ? ReasonCode.UnspecifiedError : ReasonCode.NotAuthorized, reason, ConnectionCloseReason.NotAuthorized);
    }

    /// <summary>Called by <see cref="CheckTimers"/>: a re-authentication the client left unfinished ends the connection.</summary>
    private bool ReauthenticationTimedOut(long now)
    {
        var startedAt = Volatile.Read(ref _reauthenticationStartedAt);
        if (startedAt == 0 || _broker.Time.GetElapsedTime(startedAt, now) <= Options.AuthenticationTimeout)
        {
            return false;
        }

        Close(ReasonCode.NotAuthorized, "re-authentication not finished within Mqtt:AuthenticationTimeout", ConnectionCloseReason.NotAuthorized);
        return true;
    }

    /// <summary>[MQTT-4.12.0-7] no AUTH without a method in CONNECT; [MQTT-4.12.0-5], [MQTT-4.12.1-1] every AUTH names that method.</summary>
    private static void CheckMethod(AuthPacket auth, string? method)
    {
        if (method is null)
        {
            throw new MqttProtocolException(ReasonCode.ProtocolError, "AUTH from a client whose CONNECT had no Authentication Method");
        }

        if (auth.Properties?.AuthenticationMethod != method)
        {
            throw new MqttProtocolException(ReasonCode.ProtocolError, "AUTH with another Authentication Method than CONNECT's");
        }
    }

    private void SendAuth(ReasonCode reasonCode, string method, byte[]? data)
    {
        EnqueueControl(Outbound.Packet(new AuthPacket
        {
            ReasonCode = reasonCode,
            Properties = new MqttProperties { AuthenticationMethod = method, AuthenticationData = data },
        }));
        StartWrites();
    }
}
