using Microsoft.Playwright;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// Debian's /usr/bin/chromium, headless, driven by Playwright (no browser is downloaded). One browser
/// for a test class; each test gets its own context, so cookies never leak from one test to another.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>For every wait on the page: generous, since the machine is shared, and only reached when something is wrong.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string[] _arguments;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public Chromium()
        : this([])
    {
    }

    /// <param name="arguments">More command-line switches for this browser.</param>
    internal Chromium(string[] arguments) => _arguments = arguments;

    public async Task InitializeAsync()
    {
        Assertions.SetDefaultExpectTimeout((float)Timeout.TotalMilliseconds);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", .. _arguments],
        });
    }

    /// <summary>
    /// A fresh page (no cookies) of the given size, whose relative addresses go to <paramref name="baseUrl"/>. Over HTTPS it
    /// accepts the test authority's certificates, which this browser has no way to trust otherwise.
    /// </summary>
    public async Task<IPage> NewPageAsync(string baseUrl, int width = 1280, int height = 800)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseUrl,
            ViewportSize = new ViewportSize { Width = width, Height = height },
            IgnoreHTTPSErrors = baseUrl.StartsWith("https:", StringComparison.Ordinal),
        });
        context.SetDefaultTimeout((float)Timeout.TotalMilliseconds);
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}
