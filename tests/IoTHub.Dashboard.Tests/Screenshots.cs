using Microsoft.Playwright;

namespace IoTHub.Dashboard.Tests;

/// <summary>
/// Where the tests' screenshots go: the folder named by IOTHUB_SCREENSHOT_DIR when it is set (docs/images, to refresh the
/// committed ones: docs/testing.md), otherwise screenshots/ in the test output folder.
/// </summary>
internal static class Screenshots
{
    public const string DirectoryVariable = "IOTHUB_SCREENSHOT_DIR";

    public static string Directory => Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } chosen
        ? chosen
        : Path.Combine(AppContext.BaseDirectory, "screenshots");

    /// <summary>Saves what <paramref name="page"/> shows (the viewport, or the whole page) as <paramref name="name"/> (a path under the folder).</summary>
    public static async Task<string> SaveAsync(IPage page, string name, bool fullPage = false)
    {
        var path = PathOf(name);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = fullPage, Animations = ScreenshotAnimations.Disabled });
        return path;
    }

    /// <summary>Saves what <paramref name="element"/> shows as <paramref name="name"/>.</summary>
    public static async Task<string> SaveAsync(ILocator element, string name)
    {
        var path = PathOf(name);
        await element.ScreenshotAsync(new LocatorScreenshotOptions { Path = path, Animations = ScreenshotAnimations.Disabled });
        return path;
    }

    private static string PathOf(string name)
    {
        var path = Path.Combine(Directory, name);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
