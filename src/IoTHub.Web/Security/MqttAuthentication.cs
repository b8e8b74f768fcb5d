using System.Net;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.PasswordFile;
using IoTHub.Web.Configuration;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Security;

/// <summary>
/// The authentication chain of the MQTT brokers, built from the "Security" section, and the secure default: with an
/// MQTT listener off loopback and no authenticator, the host does not start unless anonymous clients are allowed
/// explicitly (docs/security.md).
/// </summary>
internal static partial class MqttAuthentication
{
    public static IServiceCollection AddMqttAuthentication(this IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<SecurityOptions>, SecureDefault>();
        services.AddSingleton<Chain>();
        services.AddHostedService(static provider => provider.GetRequiredService<Chain>());
        services.AddSingleton(static provider => provider.GetRequiredService<Chain>().Authenticator);
        return services;
    }

    /// <summary>The MQTT listeners of every broker that are not on loopback, as "broker 'b', listener 'l' (address:port)".</summary>
    private static List<string> OpenListeners(MqttOptions mqtt) =>
    [
        .. mqtt.AllBrokers.SelectMany(static broker => broker.AllListeners
            .Where(static listener => !IPAddress.IsLoopback(listener.Address))
            .Select(listener => $"broker '{broker.Name}', listener '{listener.Name}' ({new IPEndPoint(listener.Address, listener.Port)})")),
    ];

    private static string FullPath(IHostEnvironment environment, string path) => Path.GetFullPath(path, environment.ContentRootPath);

    [LoggerMessage(EventId = 1150, Level = LogLevel.Warning,
        Message = "Security:AllowAnonymous is true while MQTT listeners are open beyond loopback ({Listeners}): anyone who reaches them connects without credentials")]
    private static partial void LogAnonymousOnNetwork(ILogger logger, string listeners);

    [LoggerMessage(EventId = 1151, Level = LogLevel.Information, Message = "MQTT authentication: {Authenticators}; anonymous clients {Anonymous}")]
    private static partial void LogChain(ILogger logger, string authenticators, string anonymous);

    /// <summary>Checks that need more than one key: the password files exist, and the secure default.</summary>
    private sealed class SecureDefault(SectionBinding<MqttOptions> mqtt, IHostEnvironment environment) : IValidateOptions<SecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecurityOptions options)
        {
            List<string> failures = [];
            foreach (var authenticator in options.Authenticators)
            {
                var path = FullPath(environment, authenticator.Path);
                if (!File.Exists(path))
                {
                    failures.Add($"{authenticator.Key} '{path}' does not exist. Create it with `mosquitto_passwd -c {path} <user>`.");
                }
            }

            var open = OpenListeners(mqtt.ReadUnvalidated());
            if (options.Authenticators.Count == 0 && options.AllowAnonymous is null && open.Count > 0)
            {
                failures.Add($"{SecurityOptions.SectionName}: MQTT listeners are open beyond loopback ({string.Join("; ", open)}) and no authenticator is " +
                    "configured, so anyone who reaches them could connect. Add users to a password file (`mosquitto_passwd -c <file> <user>`) " +
                    $"and start with --{SecurityOptions.SectionName}:{nameof(AuthenticatorType.PasswordFile)}=<file>, or accept clients without " +
                    $"credentials deliberately with --{SecurityOptions.SectionName}:{nameof(SecurityOptions.AllowAnonymous)}=true.");
            }

            return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
        }
    }

    /// <summary>Opens the password files at start and owns the chain the brokers share.</summary>
    private sealed class Chain(IOptions<SecurityOptions> security, SectionBinding<MqttOptions> mqtt, IHostEnvironment environment, ILoggerFactory loggers)
        : IHostedService, IDisposable
    {
        private AuthenticationChain? _chain;

        public AuthenticationChain Authenticator => _chain ?? throw new InvalidOperationException("The authentication chain is built when the host starts.");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            var options = security.Value;
            var logger = loggers.CreateLogger(typeof(MqttAuthentication));
            List<IAuthenticator> authenticators = [];
            try
            {
                foreach (var authenticator in options.Authenticators)
                {
                    authenticators.Add(await PasswordFileAuthenticator.OpenAsync(FullPath(environment, authenticator.Path),
                        loggers.CreateLogger<PasswordFileAuthenticator>(), cancellationToken: cancellationToken));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                authenticators.ForEach(static a => ((IDisposable)a).Dispose());
                throw new OptionsValidationException(SecurityOptions.SectionName, typeof(SecurityOptions), [$"A password file cannot be read: {e.Message}"]);
            }

            var allowAnonymous = options.AllowAnonymous ?? authenticators.Count == 0;
            _chain = new AuthenticationChain(authenticators, allowAnonymous, options.CacheDuration);
            foreach (var file in authenticators.OfType<PasswordFileAuthenticator>())
            {
                file.Reloaded += _chain.ForgetAll;
            }

            LogChain(logger, authenticators.Count == 0 ? "none" : string.Join(", ", authenticators.Select(static a => a.Method)),
                allowAnonymous ? "accepted" : "refused");
            var open = OpenListeners(mqtt.ReadUnvalidated());
            if (options.AllowAnonymous == true && open.Count > 0)
            {
                LogAnonymousOnNetwork(logger, string.Join("; ", open));
            }
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Dispose() => _chain?.Dispose();
    }
}
