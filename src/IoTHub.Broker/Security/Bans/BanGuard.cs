using IoTHub.Mqtt;

namespace IoTHub.Broker.Security.Bans;

/// <summary>
/// Stands before the authenticators: a banned client is refused at once, without asking them (no password is hashed
/// for it), with 0x8A Banned (3.1.1: 0x05 Not authorized, the closest return code; 5.0 §3.2.2.2). Every refusal for
/// credentials (0x86 Bad user name or password, 0x87 Not authorized) counts as a failed login; a ban refusal does not.
/// </summary>
public sealed class BanGuard(BanList bans, IConnectAuthenticator authenticator) : IConnectAuthenticator
{
    private static readonly ConnectDecision Banned = ConnectDecision.Refuse(ReasonCode.Banned, "banned after too many failed logins");

    public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (bans.IsBanned(request))
        {
            return ValueTask.FromResult(Banned);
        }

        var pending = authenticator.AuthenticateAsync(request, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return CountLaterAsync(request, pending);
        }

        Count(request, pending.Result);
        return pending;
    }

    private async ValueTask<ConnectDecision> CountLaterAsync(ConnectRequest request, ValueTask<ConnectDecision> pending)
    {
        var decision = await pending.ConfigureAwait(false);
        Count(request, decision);
        return decision;
    }

    private void Count(ConnectRequest request, ConnectDecision decision)
    {
        if (decision.Accepted)
        {
            bans.Succeeded(request);
        }
        else if (decision.ReasonCode is ReasonCode.BadUserNameOrPassword or ReasonCode.NotAuthorized)
        {
            bans.Failed(request);
        }
    }
}
