using System.Text;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Broker.Tests.Support;
using IoTHub.Mqtt;
using IoTHub.Testing;

namespace IoTHub.Broker.Tests.Security;

/// <summary>
/// Mosquitto password files (issue 15): both hash formats, files written by the real mosquitto_passwd (Debian
/// mosquitto), bad lines reported by number while the rest loads, and reload when the file changes.
/// </summary>
public sealed class PasswordFileTests : IDisposable
{
    private const string MosquittoPasswd = "/usr/bin/mosquitto_passwd";

    // Made with Python's hashlib (another implementation than ours): a 64-byte salt and 210 000 iterations, as Mosquitto
    // releases after 2.0 write them, and the older $6$ with a 3-byte salt.
    private const string NewerFormat =
        "carol:$7$210000$AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==$" +
        "jW5Vde31zkRoUhYaWdb5J1il/JHbko2m3YLWninH1SfF8dj8y5ba8lXW5p5LhQXXgxPT8Q49mV8ZRc7UmZ88qw==";

    private const string OldFormat = "dave:$6$AQID$2sDEEVtpaBKBRoQP+PszXylAJf3bDq9nNXg6cDKheUTFobuU/XMk4euD8RulYSGd+Wai32Mp0L+mQwagGTFcxg==";

    private readonly string _folder = Directory.CreateTempSubdirectory("iothub-passwords-").FullName;
    private readonly CapturingLogger<PasswordFileAuthenticator> _log = new();

    private string FilePath => Path.Combine(_folder, "passwords");

    [Fact]
    public async Task A_file_written_by_mosquitto_passwd_authenticates_its_users_in_both_formats()
    {
        await RunPasswdAsync("-c", "-b", FilePath, "alice", "alice-secret"); // $7$: 12-byte salt, 101 iterations (Mosquitto 2.0)
        await RunPasswdAsync("-H", "sha512", "-b", FilePath, "bob", "bob secret with spaces"); // the older $6$
        Assert.StartsWith("alice:$7$101$", await File.ReadAllTextAsync(FilePath), StringComparison.Ordinal);
        using var file = PasswordFileAuthenticator.Open(FilePath, _log);

        Assert.Equal(2, file.UserCount);
        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "alice", "alice-secret"));
        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "bob", "bob secret with spaces"));
        Assert.Equal(AuthenticationResult.Deny, await AskAsync(file, "alice", "bob secret with spaces"));
        Assert.Equal(AuthenticationResult.Deny, await AskAsync(file, "bob", "Bob secret with spaces"));
        Assert.Equal(AuthenticationResult.Deny, await AskAsync(file, "alice", null)); // a known user without a password
        Assert.Equal(AuthenticationResult.NotMine, await AskAsync(file, "Alice", "alice-secret")); // user names are case-sensitive
        Assert.Equal(AuthenticationResult.NotMine, await AskAsync(file, null, null));
    }

    [Fact]
    public async Task Any_salt_length_and_iteration_count_is_taken()
    {
        await File.WriteAllTextAsync(FilePath, NewerFormat + "\r\n" + OldFormat + "\r\n");
        using var file = PasswordFileAuthenticator.Open(FilePath, _log);

        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "carol", "newer-format"));
        Assert.Equal(AuthenticationResult.Deny, await AskAsync(file, "carol", "newer-formaT"));
        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "dave", "old-format"));
        Assert.Equal(AuthenticationResult.Deny, await AskAsync(file, "dave", ""));
    }

    [Fact]
    public async Task Bad_lines_are_reported_by_number_without_their_hash_and_the_rest_loads()
    {
        string[] lines =
        [
            "# users of the lab",                     // 1: a comment
            NewerFormat,                              // 2
            "nocolon",                                // 3
            ":$6$AQID$abc",                           // 4
            "erin:plain-text-password",               // 5
            "frank:$7$many$AQID$" + new string('A', 88), // 6
            "gina:$7$101$!!!$" + new string('A', 88), // 7
            "hank:$6$AQID$c2hvcnQ=",                  // 8: a hash of 5 bytes
            "",                                       // 9
            OldFormat,                                // 10
            "carol:$6$AQID$" + new string('A', 88),   // 11: carol again
        ];
        await File.WriteAllLinesAsync(FilePath, lines);
        using var file = PasswordFileAuthenticator.Open(FilePath, _log);

        Assert.Equal(2, file.UserCount);
        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "carol", "newer-format")); // the first carol is kept
        var reported = _log.Entries.Where(static e => e.EventId == 1302).Select(static e => e.Message).ToList();
        Assert.Equal(7, reported.Count);
        Assert.Collection(reported,
            m => Assert.Contains("line 3 is skipped: no ':'", m, StringComparison.Ordinal),
            m => Assert.Contains("line 4 is skipped: empty user name", m, StringComparison.Ordinal),
            m => Assert.Contains("line 5 is skipped: user 'erin': not a $7$", m, StringComparison.Ordinal),
            m => Assert.Contains("line 6 is skipped: user 'frank': the iteration count", m, StringComparison.Ordinal),
            m => Assert.Contains("line 7 is skipped: user 'gina': the salt is not base64", m, StringComparison.Ordinal),
            m => Assert.Contains("line 8 is skipped: user 'hank': the hash is not base64 of 64 bytes", m, StringComparison.Ordinal),
            m => Assert.Contains("line 11 is skipped: user 'carol' is already on an earlier line", m, StringComparison.Ordinal));
        foreach (var message in _log.Lines)
        {
            Assert.DoesNotContain("plain-text-password", message, StringComparison.Ordinal);
            Assert.DoesNotContain("AQID", message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_missing_file_cannot_be_opened()
    {
        Assert.Throws<FileNotFoundException>(() => PasswordFileAuthenticator.Open(FilePath, _log));
    }

    [Fact]
    public async Task A_user_added_with_mosquitto_passwd_is_let_in_without_a_restart_and_the_chain_forgets_what_it_cached()
    {
        await RunPasswdAsync("-c", "-b", FilePath, "alice", "alice-secret");
        using var file = PasswordFileAuthenticator.Open(FilePath, _log);
        var chain = new AuthenticationChain([file], allowAnonymous: false, TimeSpan.FromMinutes(10));
        file.Reloaded += chain.ForgetAll;
        var reloads = 0;
        file.Reloaded += () => Interlocked.Increment(ref reloads);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("bob", "bob-secret"), default)).ReasonCode); // cached

        await RunPasswdAsync("-b", FilePath, "bob", "bob-secret");

        await Poll.UntilAsync(() => Volatile.Read(ref reloads) > 0);
        Assert.True((await chain.AuthenticateAsync(Request("bob", "bob-secret"), default)).Accepted);
        Assert.Equal(AuthenticationResult.Allow, await AskAsync(file, "alice", "alice-secret"));
        Assert.Contains(_log.Entries, static e => e.EventId == 1301);

        // Deleted with mosquitto_passwd -D: refused again.
        await RunPasswdAsync("-D", FilePath, "bob");
        await Poll.UntilAsync(() => file.UserCount == 1);
        Assert.Equal(ReasonCode.BadUserNameOrPassword, (await chain.AuthenticateAsync(Request("bob", "bob-secret"), default)).ReasonCode);
    }

    [Fact]
    public async Task The_file_is_loaded_again_only_when_its_content_changed()
    {
        await File.WriteAllTextAsync(FilePath, OldFormat + "\n");
        using var file = PasswordFileAuthenticator.Open(FilePath, _log);
        var reloads = 0;
        file.Reloaded += () => Interlocked.Increment(ref reloads);

        File.SetLastWriteTimeUtc(FilePath, DateTime.UtcNow.AddMinutes(1));
        await file.CheckAsync();
        Assert.Equal(0, Volatile.Read(ref reloads));

        await File.AppendAllTextAsync(FilePath, NewerFormat + "\n");
        await file.CheckAsync();
        Assert.Equal(2, file.UserCount);
        Assert.True(Volatile.Read(ref reloads) >= 1); // the watcher may have checked first: either reload counts

        // A file that vanishes keeps the users loaded before.
        File.Delete(FilePath);
        await file.CheckAsync();
        Assert.Equal(2, file.UserCount);
        Assert.Contains(_log.Entries, static e => e.EventId == 1303);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private static async Task RunPasswdAsync(params string[] arguments)
    {
        using var passwd = ChildProcess.Start(MosquittoPasswd, arguments);
        await passwd.WaitForSuccessAsync();
    }

    private static ValueTask<AuthenticationAnswer> AskAsync(PasswordFileAuthenticator authenticator, string? userName, string? password) =>
        authenticator.AuthenticateAsync(Request(userName, password), default);

    private static ConnectRequest Request(string? userName, string? password) =>
        new("client", userName, password is null ? null : Encoding.UTF8.GetBytes(password), MqttProtocolVersion.V311, PipeClient.Connection);
}
