namespace IoTHub.Broker.Security.PasswordFile;

/// <summary>
/// The users of a Mosquitto password file: one <c>user:hash</c> per line (see <see cref="PasswordHash"/>). Blank lines
/// and lines starting with <c>#</c> are skipped. A bad line is reported by number and skipped; the rest still loads.
/// </summary>
public sealed class PasswordFileContent
{
    private readonly Dictionary<string, PasswordHash> _users;

    private PasswordFileContent(Dictionary<string, PasswordHash> users, List<(int Line, string UserName)> lines, List<(int Line, string Problem)> problems) =>
        (_users, Lines, Problems) = (users, lines, problems);

    public int UserCount => _users.Count;

    /// <summary>The good lines in file order: number (from 1) and user name, whose hash <see cref="Find"/> gives.</summary>
    public IReadOnlyList<(int Line, string UserName)> Lines { get; }

    /// <summary>The bad lines: number (from 1) and what is wrong, never the hash.</summary>
    public IReadOnlyList<(int Line, string Problem)> Problems { get; }

    public PasswordHash? Find(string userName) => _users.GetValueOrDefault(userName);

    public static PasswordFileContent Parse(string text)
    {
        var users = new Dictionary<string, PasswordHash>(StringComparer.Ordinal);
        var good = new List<(int, string)>();
        var problems = new List<(int, string)>();
        var lines = text.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Trim().Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var problem = colon switch
            {
                < 0 => "no ':' between user name and hash",
                0 => "empty user name",
                _ when users.ContainsKey(line[..colon]) => $"user '{line[..colon]}' is already on an earlier line, which is kept",
                _ => null,
            };

            if (problem is null)
            {
                if (PasswordHash.Parse(line[(colon + 1)..], out problem) is { } hash)
                {
                    users.Add(line[..colon], hash);
                    good.Add((i + 1, line[..colon]));
                    continue;
                }

                problem = $"user '{line[..colon]}': {problem}";
            }

            problems.Add((i + 1, problem!));
        }

        return new PasswordFileContent(users, good, problems);
    }
}
