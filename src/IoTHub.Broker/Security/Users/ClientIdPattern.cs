namespace IoTHub.Broker.Security.Users;

/// <summary>
/// The client ids a user may use: <c>*</c> stands for any run of characters (none included), <c>?</c> for exactly one,
/// <c>%u</c> for the user's name (matched literally, whatever it holds); every other character stands for itself,
/// case-sensitive. <c>%u-*</c> lets alice use <c>alice-1</c> and <c>alice-kitchen</c>; <c>sensor-????</c> four
/// characters after <c>sensor-</c>. A pattern has no way to match a literal <c>*</c> or <c>?</c>.
/// </summary>
public static class ClientIdPattern
{
    public static bool Matches(string pattern, string userName, string clientId)
    {
        // Elements: a character (>= 0), AnyRun or AnyOne; %u becomes the user name's characters.
        const int AnyRun = -1;
        const int AnyOne = -2;
        var elements = new List<int>(pattern.Length + userName.Length);
        for (var i = 0; i < pattern.Length; i++)
        {
            switch (pattern[i])
            {
                case '*':
                    elements.Add(AnyRun);
                    break;
                case '?':
                    elements.Add(AnyOne);
                    break;
                case '%' when i + 1 < pattern.Length && pattern[i + 1] == 'u':
                    elements.AddRange(userName.Select(static c => (int)c));
                    i++;
                    break;
                default:
                    elements.Add(pattern[i]);
                    break;
            }
        }

        // The usual wildcard walk: on a mismatch go back to the last AnyRun and let it take one more character.
        int e = 0, c = 0, runAt = -1, runFrom = 0;
        while (c < clientId.Length)
        {
            if (e < elements.Count && (elements[e] == AnyOne || elements[e] == clientId[c]))
            {
                e++;
                c++;
            }
            else if (e < elements.Count && elements[e] == AnyRun)
            {
                runAt = e++;
                runFrom = c;
            }
            else if (runAt >= 0)
            {
                e = runAt + 1;
                c = ++runFrom;
            }
            else
            {
                return false;
            }
        }

        while (e < elements.Count && elements[e] == AnyRun)
        {
            e++;
        }

        return e == elements.Count;
    }
}
