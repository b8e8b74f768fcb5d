using IoTHub.Mqtt;

namespace IoTHub.Broker.Security.Certificates;

/// <summary>
/// On a listener that takes user names from client certificates (<see cref="CertificateIdentity"/>), the certificate is
/// the login: a client that presented one (the TLS handshake checked it) is accepted under its identity, which
/// replaces the CONNECT's user name, and no password is checked, as Mosquitto's <c>use_identity_as_username</c>. A
/// client without a certificate, or whose certificate lacks the name, is refused with 0x87 Not authorized (3.1.1:
/// 0x05); so is an Authentication Method (0x8C): the certificate is the login. The listener's own AllowAnonymous may
/// let clients without credentials in: there the certificate is the credential, and a client without one connects
/// anonymously. Other listeners' clients go to the authenticators.
/// </summary>
public sealed class CertificateLogin(IConnectAuthenticator authenticators) : IConnectAuthenticator
{
    private static readonly ConnectDecision NoCertificate = ConnectDecision.Refuse(ReasonCode.NotAuthorized, "a client certificate is required on this listener");

    private static readonly ConnectDecision Unnamed = ConnectDecision.Refuse(ReasonCode.NotAuthorized, "the client certificate has no name to use as user name");

    public ValueTask<ConnectDecision> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        var connection = request.Connection;
        if (connection.CertificateIdentity == CertificateIdentity.None)
        {
            return authenticators.AuthenticateAsync(request, cancellationToken);
        }

        if (request.Authentication is not null)
        {
            return ValueTask.FromResult(ConnectDecision.BadMethod);
        }

        return ValueTask.FromResult(request.UserName is not null ? ConnectDecision.Accept
            : connection.ClientCertificate is not null ? Unnamed
            : connection.AllowAnonymous == true ? ConnectDecision.Accept
            : NoCertificate);
    }
}
