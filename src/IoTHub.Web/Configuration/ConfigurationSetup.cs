using IoTHub.Web.Configuration.Mosquitto;
using IoTHub.Web.Telemetry;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Configuration;

internal static class ConfigurationSetup
{
    /// <summary>Adds the short switches and the options of our own sections, validated at start.</summary>
    public static WebApplicationBuilder AddIoTHubConfiguration(this WebApplicationBuilder builder, string[] args)
    {
        // Added last, so a switch wins over appsettings.json and environment variables like any other argument.
        builder.Configuration.AddCommandLine(args, new Dictionary<string, string>(CommandLineSwitches.Mappings));

        // Under the explicit settings (environment, command line), above the JSON files.
        MosquittoConfigurationSource.AddTo(builder.Configuration);

        builder.Services.AddSection<HttpOptions>(builder.Configuration, HttpOptions.SectionName, static (reader, options) => options.Read(reader));
        builder.Services.AddSection<MqttOptions>(builder.Configuration, MqttOptions.SectionName, static (reader, options) => options.ReadAll(reader));
        builder.Services.AddSection<StorageOptions>(builder.Configuration, StorageOptions.SectionName, static (reader, options) => options.Read(reader));
        builder.Services.AddSection<AdminOptions>(builder.Configuration, AdminOptions.SectionName, static (reader, options) => options.Read(reader));
        builder.Services.AddSection<SecurityOptions>(builder.Configuration, SecurityOptions.SectionName, static (reader, options) => options.Read(reader));
        builder.Services.AddSection<ClusterOptions>(builder.Configuration, ClusterOptions.SectionName, static (reader, options) => options.Read(reader));
        builder.Services.AddSection<TelemetryOptions>(builder.Configuration, TelemetryOptions.SectionName, static (reader, options) => options.Read(reader));
        KnownSections.Register(builder.Services);
        MosquittoImportCheck.Register(builder.Services);
        return builder;
    }

    private static void AddSection<TOptions>(this IServiceCollection services, IConfiguration configuration, string sectionName, Action<SectionReader, TOptions> read)
        where TOptions : class, new()
    {
        var binding = new SectionBinding<TOptions>(configuration, sectionName, read);
        services.AddSingleton(binding);
        services.AddSingleton<ISectionBinding>(binding);
        services.AddSingleton<IConfigureOptions<TOptions>>(binding);
        services.AddSingleton<IValidateOptions<TOptions>>(binding);
        services.AddOptions<TOptions>().ValidateOnStart();
    }
}
