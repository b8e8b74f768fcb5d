using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Configuration;

/// <summary>
/// Refuses top-level configuration sections nobody reads, as each section refuses unknown keys: a typo such as
/// <c>--Securty:PasswordFile=...</c> must stop the start, not start a broker more open than intended. Known are our
/// sections (every <see cref="SectionBinding{TOptions}"/>) and the framework's. A plain top-level value (no child keys)
/// is checked only when it comes from the command line or a JSON file: every environment variable is a top-level value
/// too (PATH, HOME, ...), and only those that name a section (<c>Securty__PasswordFile</c>) can be ours.
/// </summary>
internal sealed class KnownSections(IConfiguration configuration, IEnumerable<ISectionBinding> ours) : IValidateOptions<KnownSections.Marker>
{
    /// <summary>The framework's: logging, Kestrel, host filtering, the hosting keys the web host reads.</summary>
    private static readonly string[] Framework =
    [
        "Logging", "Kestrel", "AllowedHosts", "urls", "http_ports", "https_ports", "environment", "applicationName", "contentRoot",
        "webroot", "detailedErrors", "hostingStartupAssemblies", "hostingStartupExcludeAssemblies", "preventHostingStartup",
        "suppressStatusMessages", "shutdownTimeoutSeconds",

        // The web host also reads the arguments without our switch mappings: --data-dir arrives as "data-dir" too.
        .. CommandLineSwitches.Mappings.Keys.Select(static flag => flag.TrimStart('-')),
    ];

    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<Marker>, KnownSections>();
        services.AddOptions<Marker>().ValidateOnStart();
    }

    public ValidateOptionsResult Validate(string? name, Marker options)
    {
        var ourNames = ours.Select(static binding => binding.SectionName).ToList();
        var known = new HashSet<string>([.. ourNames, .. Framework], StringComparer.OrdinalIgnoreCase);
        var typed = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        if (configuration is IConfigurationRoot root)
        {
            foreach (var provider in root.Providers.Where(static p => p is CommandLineConfigurationProvider or JsonConfigurationProvider))
            {
                typed.UnionWith(provider.GetChildKeys([], parentPath: null));
            }
        }

        var unknown = configuration.GetChildren()
            .Where(section => !known.Contains(section.Key) && (section.GetChildren().Any() || typed.Contains(section.Key)))
            .Select(section => $"{section.Key} is not a known section (known: {string.Join(", ", ourNames)}); check its spelling.")
            .ToList();
        return unknown.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(unknown);
    }

    /// <summary>What the check validates: nothing of its own, it reads the whole configuration.</summary>
    internal sealed class Marker;
}
