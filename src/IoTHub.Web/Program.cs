using IoTHub.Web.Api;
using IoTHub.Web.Audit;
using IoTHub.Web.Auth;
using IoTHub.Web.Cluster;
using IoTHub.Web.Configuration;
using IoTHub.Web.Dashboard;
using IoTHub.Web.Health;
using IoTHub.Web.Hosting;
using IoTHub.Web.Metrics;
using IoTHub.Web.Mqtt;
using IoTHub.Web.Security;
using IoTHub.Web.Storage;
using IoTHub.Web.Telemetry;
using IoTHub.Web.Transports.WebSockets;
using IoTHub.Web.WebSecurity;
using Microsoft.Extensions.Options;

// The container image's HEALTHCHECK: ask the running host and exit, without starting one.
if (args is [HealthProbe.Switch, .. var probeArgs])
    return await HealthProbe.RunAsync(probeArgs);

WebApplicationBuilder builder = WebApplication.CreateBuilder(args)
    .UseBuildOutputCopiesWhenMissing()
    .AddIoTHubConfiguration(args)
    .AddLogFormat()
    .AddCluster();

builder.Services
    .AddHttpListener()
    .AddTransportMemoryPool()
    .AddDataDirectory()
    .AddBrokerStorage()
    .AddMqttAuthentication()
    .AddMqttAuthorization()
    .AddMqttListener()
    .AddAdminAuthentication()
    .AddBrokerMetrics()
    .AddOtlpExport(builder.Configuration)
    .AddAdminOpenApi()
    .AddBadRequestProblems()
    .AddHealth()
    .AddDashboard();

WebApplication app = builder.Build();
app.UseMqttWebSockets();
app.UseSecurityHeaders();
app.UseBadRequestProblems();
app.UseDashboardNotFoundPage();
app.UseStaticFiles();
// Routing after the static files: the framework's static assets add a catch-all fallback endpoint for
// files, which would otherwise take the web root's files away from UseStaticFiles (and behind login).
app.UseRouting();
app.UseTopicsInPaths();
app.UseAdminOpenApi();
app.UseAuthentication();
app.UseAdminAudit();
app.UseAuthorization();
app.UseAntiforgery();
app.MapHealthEndpoints();
app.MapMetricsEndpoint();
app.MapAdminApi();
app.MapDashboard();

try
{
    // The host validates again as it starts; checking first keeps bad settings to our one plain
    // message instead of the host's "Hosting failed to start" log with its stack trace.
    app.Services.GetRequiredService<IStartupValidator>().Validate();
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (StartupFailure.TryDescribe(e, out string message))
{
    await Console.Error.WriteLineAsync(message);
    return 1;
}

/// <summary>Public so that tests can start the host with WebApplicationFactory&lt;Program&gt;.</summary>
public partial class Program;
