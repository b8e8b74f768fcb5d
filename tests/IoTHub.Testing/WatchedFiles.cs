namespace IoTHub.Testing;

/// <summary>Changes a file the broker watches (acl file, password file) as a deployment would.</summary>
public static class WatchedFiles
{
    /// <summary>
    /// Writes a new file beside it and renames it over the old one: the broker reads either the old or the new content,
    /// never the truncated file between the two steps of an in-place write (docs/security.md).
    /// </summary>
    public static async Task ReplaceAsync(string path, string content)
    {
        var next = path + ".new";
        await File.WriteAllTextAsync(next, content);
        File.Move(next, path, overwrite: true);
    }
}
