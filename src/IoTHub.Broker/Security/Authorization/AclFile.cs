using System.Text;
using IoTHub.Mqtt;
using Microsoft.Extensions.Logging;

namespace IoTHub.Broker.Security.Authorization;

/// <summary>
/// A Mosquitto <c>acl_file</c> as a source of rules (<see cref="Parse"/> says how each line reads), read again when it
/// changes (<see cref="WatchedFile"/>): <see cref="Changed"/> then fires and the authorizer compiles the new rules. A file
/// that vanishes or cannot be read keeps the rules loaded before.
/// </summary>
public sealed partial class AclFile : IAclSource, IDisposable
{
    private readonly ILogger _logger;
    private readonly WatchedFile _file;
    private IReadOnlyList<AclRule> _rules;

    private AclFile(string path, byte[] bytes, ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _rules = Load(path, bytes);
        _file = new WatchedFile(path, bytes, Reload, reason => LogUnreadable(_logger, Path, reason), time);
    }

    public string Path => _file.Path;

    public IReadOnlyList<AclRule> Rules => Volatile.Read(ref _rules);

    public event Action? Changed;

    /// <summary>Reads the file (a missing one throws <see cref="FileNotFoundException"/>) and watches it from then on.</summary>
    public static AclFile Open(string path, ILogger logger, TimeProvider? time = null)
    {
        path = System.IO.Path.GetFullPath(path);
        var file = new AclFile(path, File.ReadAllBytes(path), logger, time ?? TimeProvider.System);
        LogLoaded(logger, path, file.Rules.Count);
        return file;
    }

    /// <summary>
    /// The rules of an acl_file. <c>user &lt;name&gt;</c> starts a user's lines; <c>topic [read|write|readwrite|deny]
    /// &lt;filter&gt;</c> is a rule of that user, or, before any <c>user</c> line, of clients without a user name;
    /// <c>pattern [read|write|readwrite|deny] &lt;filter&gt;</c> is a rule of every client, where <c>%u</c> and <c>%c</c>
    /// (and IoTHub's <c>${cert_cn}</c>) stand for the client's user name, client id and certificate common name. No
    /// access word means <c>readwrite</c>; <c>read</c> is subscribing and receiving, <c>write</c> publishing, <c>deny</c>
    /// denies both. Blank lines and lines starting with <c>#</c> are skipped; a bad line is reported with its number and
    /// skipped, the rest still loads.
    /// </summary>
    public static IReadOnlyList<AclRule> Parse(string text, string path, out List<(int Line, string Problem)> problems)
    {
        List<AclRule> rules = [];
        problems = [];
        string? user = null;
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.IndexOfAny([' ', '\t']);
            var keyword = space < 0 ? line : line[..space];
            var rest = space < 0 ? string.Empty : line[(space + 1)..].TrimStart();
            switch (keyword)
            {
                case "user" when rest.Length > 0:
                    user = rest;
                    break;
                case "user":
                    problems.Add((i + 1, "'user' without a user name"));
                    break;
                case "topic" or "pattern":
                    if (ParseRule(rest, keyword == "pattern", user, $"{path}:{i + 1}", out var problem) is { } rule)
                    {
                        rules.Add(rule);
                    }
                    else
                    {
                        problems.Add((i + 1, problem!));
                    }

                    break;
                default:
                    problems.Add((i + 1, $"'{keyword}' is not user, topic or pattern"));
                    break;
            }
        }

        return rules;
    }

    public void Dispose() => _file.Dispose();

    private static AclRule? ParseRule(string rest, bool pattern, string? user, string source, out string? problem)
    {
        var space = rest.IndexOfAny([' ', '\t']);
        var word = space < 0 ? rest : rest[..space];
        (bool Allow, AclAction Actions)? access = word switch
        {
            "read" => (true, AclAction.Subscribe),
            "write" => (true, AclAction.Publish),
            "readwrite" => (true, AclAction.Both),
            "deny" => (false, AclAction.Both),
            _ => null,
        };

        // Without an access word the whole rest is the filter (which may hold spaces), readwrite.
        var filter = access is null ? rest : space < 0 ? string.Empty : rest[(space + 1)..].TrimStart();
        var (allow, actions) = access ?? (true, AclAction.Both);
        problem = filter.Length == 0 ? "no topic filter"
            : !TopicRules.IsValidTopicFilter(filter) || filter.StartsWith(TopicRules.SharePrefix, StringComparison.Ordinal)
                ? $"'{filter}' is not a valid topic filter"
            : null;
        if (problem is not null)
        {
            return null;
        }

        var scope = pattern ? AclScope.Everyone : user is null ? AclScope.Anonymous : AclScope.User;
        return new AclRule(allow, actions, filter, scope, scope == AclScope.User ? user : null, pattern, source);
    }

    private void Reload(byte[] bytes)
    {
        Volatile.Write(ref _rules, Load(Path, bytes));
        LogReloaded(_logger, Path, _rules.Count);
        Changed?.Invoke();
    }

    private IReadOnlyList<AclRule> Load(string path, byte[] bytes)
    {
        var rules = Parse(Encoding.UTF8.GetString(bytes), path, out var problems);
        foreach (var (line, problem) in problems)
        {
            LogBadLine(_logger, path, line, problem);
        }

        return rules;
    }

    [LoggerMessage(1310, LogLevel.Information, "ACL file {Path}: {Rules} rules")]
    private static partial void LogLoaded(ILogger logger, string path, int rules);

    [LoggerMessage(1311, LogLevel.Information, "ACL file {Path} changed and was read again: {Rules} rules")]
    private static partial void LogReloaded(ILogger logger, string path, int rules);

    [LoggerMessage(1312, LogLevel.Warning, "ACL file {Path} line {Line} is skipped: {Problem}")]
    private static partial void LogBadLine(ILogger logger, string path, int line, string problem);

    [LoggerMessage(1313, LogLevel.Warning, "ACL file {Path} cannot be read ({Reason}); the rules loaded before stay")]
    private static partial void LogUnreadable(ILogger logger, string path, string reason);
}
