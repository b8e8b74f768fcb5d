using IoTHub.Web.Auth;
using IoTHub.Web.Configuration;
using IoTHub.Web.Configuration.Mosquitto;

namespace IoTHub.Web.Api.Config;

/// <summary>The configuration in force.</summary>
/// <param name="MosquittoConfig">The mosquitto.conf imported (Mqtt:MosquittoConfig, --mosquitto-config), as a full path; null when none is.</param>
/// <param name="Settings">Every key of the Http, Mqtt, Storage, Admin and Security sections with its value in force and its source; secrets show "(hidden)".</param>
/// <param name="NotTaken">The directives of the imported file that IoTHub did not take, each with its file, line and reason.</param>
internal sealed record EffectiveConfiguration(string? MosquittoConfig, IReadOnlyList<EffectiveSetting> Settings, IReadOnlyList<NotTakenDirective> NotTaken);

/// <summary>GET /api/v1/config/effective: what the host runs with, and where each value came from.</summary>
internal static class ConfigApi
{
    public static IEndpointRouteBuilder MapConfigApi(this IEndpointRouteBuilder api)
    {
        api.MapGet("/config/effective", Effective).WithTags("Configuration").WithName("GetEffectiveConfiguration")
            .WithSummary("Lists every setting with its value in force and where it came from (command line, environment, appsettings.json, a mosquitto.conf line, or default), and the imported mosquitto.conf's directives that were not taken. Secrets are never shown.")
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    private static EffectiveConfiguration Effective(IConfiguration configuration, IEnumerable<ISectionBinding> sections)
    {
        var effective = new EffectiveSettings(configuration);
        foreach (var section in sections)
        {
            section.Describe(effective);
        }

        var import = MosquittoConfigurationSource.Current(configuration);
        return new EffectiveConfiguration(import?.Path, [.. effective.Settings], import?.NotTaken ?? []);
    }
}
