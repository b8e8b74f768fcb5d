namespace IoTHub.Web.Configuration.Mosquitto;

/// <summary>One line of a mosquitto.conf: its name, the rest of the line, and where it stands.</summary>
/// <param name="File">The full path of the file.</param>
/// <param name="Line">Its line number, from 1.</param>
/// <param name="Name">The directive, e.g. <c>listener</c>.</param>
/// <param name="Value">The rest of the line, trimmed (a path may hold spaces).</param>
internal sealed record MosquittoDirective(string File, int Line, string Name, string Value)
{
    /// <summary>Where it stands, as <c>/etc/mosquitto/mosquitto.conf:12</c>.</summary>
    public string Origin => $"{File}:{Line}";
}

/// <summary>
/// Reads a mosquitto.conf into its directives, with the files of its <c>include_dir</c> lines where those lines stand:
/// a directory's <c>*.conf</c> files in Mosquitto's order (alphabetical ignoring case, upper case first among equals).
/// Only the main file's <c>include_dir</c> is followed, as Mosquitto does; an included file's is returned as a directive.
/// </summary>
internal static class MosquittoConfigFile
{
    public const string IncludeDir = "include_dir";

    /// <summary>The directives of <paramref name="path"/> and its included files; a file or directory that cannot be read is recorded in <paramref name="problems"/>.</summary>
    public static List<MosquittoDirective> Read(string path, List<string> problems)
    {
        List<MosquittoDirective> directives = [];
        foreach (var directive in ReadOne(path, problems))
        {
            if (directive.Name != IncludeDir)
            {
                directives.Add(directive);
                continue;
            }

            var directory = Path.GetFullPath(directive.Value);
            if (!Directory.Exists(directory))
            {
                problems.Add($"{directive.Origin}: include_dir '{directive.Value}' is not a directory that can be read.");
                continue;
            }

            var files = Directory.GetFiles(directory, "*.conf").Where(static f => f.EndsWith(".conf", StringComparison.Ordinal)).ToList();
            files.Sort(CompareNames);
            foreach (var file in files)
            {
                directives.AddRange(ReadOne(file, problems));
            }
        }

        return directives;
    }

    private static List<MosquittoDirective> ReadOne(string path, List<string> problems)
    {
        var full = Path.GetFullPath(path);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"Mqtt:MosquittoConfig: '{full}' cannot be read: {e.Message}");
            return [];
        }

        List<MosquittoDirective> directives = [];
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.IndexOfAny([' ', '\t']);
            directives.Add(space < 0
                ? new MosquittoDirective(full, i + 1, line, string.Empty)
                : new MosquittoDirective(full, i + 1, line[..space], line[(space + 1)..].Trim()));
        }

        return directives;
    }

    /// <summary>Mosquitto's order of included files: letters compared without case, and of two that differ only in case, upper case first.</summary>
    private static int CompareNames(string a, string b)
    {
        var x = Path.GetFileName(a);
        var y = Path.GetFileName(b);
        for (var i = 0; i < x.Length && i < y.Length; i++)
        {
            var folded = char.ToUpperInvariant(x[i]).CompareTo(char.ToUpperInvariant(y[i]));
            if (folded != 0)
            {
                return folded;
            }

            if (x[i] != y[i])
            {
                return x[i].CompareTo(y[i]);
            }
        }

        return x.Length.CompareTo(y.Length);
    }
}
