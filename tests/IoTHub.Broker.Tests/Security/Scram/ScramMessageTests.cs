using System.Security.Cryptography;
using System.Text;
using IoTHub.Broker.Security.Scram;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests.Security.Scram;

/// <summary>
/// SCRAM messages (RFC 5802, RFC 7677): the tests' own client against the RFCs' example exchanges, then the broker's
/// server side against that client: a right password passes and its signature checks out; a wrong one, a nonce or
/// channel binding that does not match, channel binding (p=), extensions and malformed messages are refused.
/// </summary>
public sealed class ScramMessageTests
{
    // RFC 5802 §5: SCRAM-SHA-1, user "user", password "pencil".
    [Fact]
    public void The_test_client_computes_RFC_5802s_example()
    {
        var client = new ScramClient(HashAlgorithmName.SHA1, "user", "pencil", "fyko+d2lbbFgONRv9qkxdawL");
        Assert.Equal("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", Encoding.UTF8.GetString(client.ClientFirst()));
        var final = client.ClientFinal("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096"u8.ToArray());
        Assert.Equal("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", Encoding.UTF8.GetString(final));
        Assert.True(client.VerifyServerFinal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ="u8.ToArray()));
        Assert.False(client.VerifyServerFinal("v=rmF9pqV8S7suAoZWja4dJRkFsKQ"u8.ToArray()));
    }

    // RFC 7677 §3: SCRAM-SHA-256, user "user", password "pencil".
    [Fact]
    public void The_test_client_computes_RFC_7677s_example()
    {
        var client = new ScramClient(HashAlgorithmName.SHA256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO");
        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", Encoding.UTF8.GetString(client.ClientFirst()));
        var final = client.ClientFinal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"u8.ToArray());
        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            Encoding.UTF8.GetString(final));
        Assert.True(client.VerifyServerFinal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="u8.ToArray()));
    }

    [Theory]
    [InlineData("SCRAM-SHA-256")]
    [InlineData("SCRAM-SHA-512")]
    public void The_server_accepts_the_right_password_and_signs_what_the_client_expects(string method)
    {
        var mechanism = ScramMechanism.Find(method)!;
        var credential = ScramCredential.Create(mechanism, "pencil", iterations: 64);
        Assert.Equal(credential with { }, ScramCredential.Parse(credential.Encoded), new CredentialComparer());

        var client = ScramClient.ForMethod(method, "us=er,1", "pencil");
        var server = ScramServer.Start(mechanism, client.ClientFirst(), out var problem)!;
        Assert.Null(problem);
        Assert.Equal("us=er,1", server.UserName);
        var serverFinal = server.Finish(client.ClientFinal(server.ServerFirst(credential)), out problem);
        Assert.Null(problem);
        Assert.True(client.VerifyServerFinal(serverFinal));

        var wrong = ScramClient.ForMethod(method, "user", "pencils");
        var other = ScramServer.Start(mechanism, wrong.ClientFirst(), out _)!;
        Assert.Null(other.Finish(wrong.ClientFinal(other.ServerFirst(credential)), out problem));
        Assert.Null(problem);
    }

    // The $7$ hash is SCRAM-SHA-512's SaltedPassword: a client that knows the password logs in against it.
    [Fact]
    public void A_7_hash_serves_SCRAM_SHA_512()
    {
        var hash = IoTHub.Broker.Security.PasswordFile.PasswordHash.Create("pencil", iterations: 101);
        var (salt, derived) = hash.Pbkdf2!.Value;
        var credential = ScramCredential.FromSaltedPassword(ScramMechanism.Sha512, hash.Iterations, salt, derived);
        var client = ScramClient.ForMethod("SCRAM-SHA-512", "user", "pencil");
        var server = ScramServer.Start(ScramMechanism.Sha512, client.ClientFirst(), out _)!;
        Assert.True(client.VerifyServerFinal(server.Finish(client.ClientFinal(server.ServerFirst(credential)), out _)));
    }

    [Theory]
    [InlineData("p=tls-unique,,n=user,r=abc", "channel binding (p=tls-unique) is not supported")]
    [InlineData("x,,n=user,r=abc", "gs2 channel binding flag")]
    [InlineData("n,,m=ext,n=user,r=abc", "mandatory extensions")]
    [InlineData("n,,n=us=er,r=abc", "=2C or =3D")]
    [InlineData("n,,n=,r=abc", "user name is missing")]
    [InlineData("n,a=admin,n=user,r=abc", "authorization identity")]
    [InlineData("n,,n=user,r=", "client nonce")]
    [InlineData("n,,n=user", "not gs2-header")]
    [InlineData("", "not gs2-header")]
    public void A_client_first_message_it_does_not_take_is_refused_with_a_reason(string clientFirst, string reason)
    {
        Assert.Null(ScramServer.Start(ScramMechanism.Sha256, Encoding.UTF8.GetBytes(clientFirst), out var problem));
        Assert.Contains(reason, problem);
    }

    [Fact]
    public void A_client_first_message_that_is_not_UTF8_is_refused() =>
        Assert.Null(ScramServer.Start(ScramMechanism.Sha256, [(byte)'n', (byte)',', (byte)',', 0xC3, 0x28], out _));

    [Theory]
    [InlineData("c=biws,r=WRONG,p=AAAA", "nonce")]
    [InlineData("c=eSws,r={nonce},p=AAAA", "channel binding")]
    [InlineData("c=biws,r={nonce},p=not-base64!", "proof")]
    [InlineData("c=biws,r={nonce},p=AAAA", "proof")]
    [InlineData("c=biws,r={nonce}", "not c=binding")]
    public void A_client_final_message_that_does_not_match_the_exchange_is_refused(string clientFinal, string reason)
    {
        var server = ScramServer.Start(ScramMechanism.Sha256, "n,,n=user,r=abc"u8, out _)!;
        var serverFirst = Encoding.UTF8.GetString(server.ServerFirst(ScramCredential.Create(ScramMechanism.Sha256, "pencil", iterations: 1)));
        var nonce = serverFirst.Split(',')[0][2..];
        Assert.StartsWith("abc", nonce);
        Assert.Null(server.Finish(Encoding.UTF8.GetBytes(clientFinal.Replace("{nonce}", nonce, StringComparison.Ordinal)), out var problem));
        Assert.Contains(reason, problem);
    }

    private sealed class CredentialComparer : IEqualityComparer<ScramCredential?>
    {
        public bool Equals(ScramCredential? x, ScramCredential? y) => x is not null && y is not null && x.Mechanism == y.Mechanism
            && x.Iterations == y.Iterations && x.Salt.SequenceEqual(y.Salt) && x.StoredKey.SequenceEqual(y.StoredKey) && x.ServerKey.SequenceEqual(y.ServerKey);

        public int GetHashCode(ScramCredential? obj) => 0;
    }
}
