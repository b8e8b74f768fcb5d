using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;

namespace IoTHub.Web.Hosting;

/// <summary>
/// appsettings.json and wwwroot live at the repository root, which is the content root when the host
/// is started from there. The build puts a copy of both next to the assembly; those copies are used
/// when the content root does not hold the files: a plain build started from another folder, or the
/// test factory, whose content root is the project folder.
/// </summary>
internal static class HostFiles
{
    private const string SettingsFileName = "appsettings.json";
    private const string WebRootName = "wwwroot";

    public static WebApplicationBuilder UseBuildOutputCopiesWhenMissing(this WebApplicationBuilder builder)
    {
        string contentRoot = builder.Environment.ContentRootPath;
        if (!File.Exists(Path.Combine(contentRoot, SettingsFileName)))
        {
            ReplaceSettingsFileSource(builder.Configuration);
        }

        string builtWebRoot = Path.Combine(AppContext.BaseDirectory, WebRootName);
        if (!Directory.Exists(Path.Combine(contentRoot, WebRootName)) && Directory.Exists(builtWebRoot))
        {
            builder.Environment.WebRootPath = builtWebRoot;
            builder.Environment.WebRootFileProvider = new PhysicalFileProvider(builtWebRoot);
        }

        // The framework's static web assets (_framework/blazor.web.js) are found through the runtime manifest
        // next to the assembly; only Development does this by itself. Without that manifest (a publish, where
        // the files are copied into the web root) this changes nothing.
        builder.WebHost.UseStaticWebAssets();
        return builder;
    }

    // Swapped in place rather than appended, so environment variables and arguments still win over the file.
    private static void ReplaceSettingsFileSource(ConfigurationManager configuration)
    {
        IList<IConfigurationSource> sources = ((IConfigurationBuilder)configuration).Sources;
        for (int i = 0; i < sources.Count; i++)
        {
            if (sources[i] is JsonConfigurationSource { Path: SettingsFileName })
            {
                sources[i] = new JsonConfigurationSource
                {
                    Path = SettingsFileName,
                    Optional = false,
                    FileProvider = new PhysicalFileProvider(AppContext.BaseDirectory),
                };
                return;
            }
        }
    }
}
