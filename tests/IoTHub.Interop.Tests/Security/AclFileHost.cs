namespace IoTHub.Interop.Tests.Security;

/// <summary>
/// The host with the password file of <see cref="PasswordFileHost"/> (alice, bob), anonymous clients allowed, and
/// <c>Security:AclFile</c> naming <see cref="Rules"/> as a user would write it for Mosquitto.
/// </summary>
public class AclFileHost : PasswordFileHost
{
    /// <summary>The file at start; tests that change it put it back.</summary>
    public const string Rules = """
        # Anonymous clients: the Paho suites' topics, but not test/nosubscribe.
        topic readwrite test/#
        topic deny test/nosubscribe

        user alice
        topic readwrite alice/#
        topic read news/#

        # Every user: its own device tree.
        pattern readwrite devices/%u/#
        """;

    public AclFileHost()
        : this(new Dictionary<string, string>())
    {
    }

    /// <param name="settings">More settings.</param>
    protected AclFileHost(IReadOnlyDictionary<string, string> settings)
        : this(WriteRules(), settings)
    {
    }

    private AclFileHost(string aclFile, IReadOnlyDictionary<string, string> settings)
        : base(allowAnonymous: true, new Dictionary<string, string>(settings) { ["Security:AclFile"] = aclFile })
    {
        AclFile = aclFile;
    }

    public string AclFile { get; }

    private static string WriteRules()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("iothub-interop-acl-").FullName, "acl");
        File.WriteAllText(path, Rules);
        return path;
    }
}
