using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace IoTHub.Dashboard.Tests;

/// <summary>The Content-Security-Policy violations a page reports, each as "directive blocked-URI source:line", collected from the time it is watched.</summary>
internal sealed class CspViolations
{
    private const string Prefix = "csp-violation ";

    private readonly ConcurrentQueue<string> _reported = new();

    public bool IsEmpty => _reported.IsEmpty;

    public IReadOnlyCollection<string> Reported => [.. _reported];

    /// <summary>Starts watching <paramref name="page"/>, before it loads what is to be watched.</summary>
    public static async Task<CspViolations> WatchAsync(IPage page)
    {
        var violations = new CspViolations();
        page.Console += (_, message) =>
        {
            if (message.Text.StartsWith(Prefix, StringComparison.Ordinal))
            {
                violations._reported.Enqueue(message.Text[Prefix.Length..]);
            }
        };

        // Playwright's own scripts are not subject to the page's policy; what the page does is.
        await page.AddInitScriptAsync($"document.addEventListener('securitypolicyviolation', e => console.error('{Prefix}' + e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber));");
        return violations;
    }

    public override string ToString() => string.Join(Environment.NewLine, _reported);
}
