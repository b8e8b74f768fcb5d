using IoTHub.Broker.Security.Audit;
using IoTHub.Broker.Security.Authorization;
using IoTHub.Broker.Security.Roles;
using IoTHub.Broker.Security.Users;
using IoTHub.Data.AccessAudit;
using IoTHub.Data.Roles;
using IoTHub.Mqtt;
using IoTHub.Web.Configuration;
using IoTHub.Web.Security.Roles;
using IoTHub.Web.Storage;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Security;

/// <summary>
/// The authorizer the MQTT brokers share, built from the "Security" section: the roles and rules stored through the
/// admin API (always), a Mosquitto acl_file (<c>Security:AclFile</c>), the default when no rule speaks
/// (<c>Security:AclDefault</c>: deny when an acl_file is configured, as Mosquitto, else allow) and what a refusal does
/// (<c>Security:DenyAction</c>). While there is no rule and the default allows, nothing is checked
/// (docs/security.md#access-rules). The stored rules are read at start, before the brokers take clients. Its decisions
/// go to the access audit (<c>Security:AccessAudit</c>), kept where the admin audit log is.
/// </summary>
internal sealed partial class MqttAuthorization : IAsyncDisposable
{
    private MqttAuthorization(Authorizer authorizer) => Authorizer = authorizer;

    public Authorizer Authorizer { get; }

    /// <summary>Stores what the audit still holds, then stops watching the rule sources.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Authorizer.Audit is { } audit)
        {
            await audit.DisposeAsync();
        }

        Authorizer.Dispose();
    }

    /// <summary>Every (action, result) count for <c>iothub_authorization_total</c>, zeros while nothing is checked.</summary>
    public IEnumerable<(string Action, string Result, long Count)> Decisions() => Authorizer.Decisions();

    /// <summary>Decisions the audit did not record, by reason, for <c>iothub_access_audit_dropped_total</c>; zeros without an audit.</summary>
    public IEnumerable<(string Reason, long Count)> AuditDrops() => Authorizer.Audit?.Dropped() ?? AccessAudit.NoneDropped();

    /// <summary>
    /// Registers the authorizer with its audit, the access audit's log, the stored rules it reads at start and the check
    /// that the acl_file exists.
    /// </summary>
    public static void Register(IServiceCollection services)
    {
        services.AddSingleton<IValidateOptions<SecurityOptions>, AclFileExists>();
        services.AddSingleton(static provider => AccessAuditLogs.Create(provider.GetRequiredService<BrokerDatabase>().Contexts));
        services.AddSingleton(static provider => AclStores.Create(provider.GetRequiredService<BrokerDatabase>().Contexts, provider.GetRequiredService<IMqttUserStore>()));
        services.AddSingleton(static provider => new StoredAclSource(provider.GetRequiredService<IAclStore>()));
        services.AddSingleton<MqttAccessControl>();
        services.AddSingleton(Build);
        services.AddHostedService<StoredRulesAtStart>();
    }

    private static MqttAuthorization Build(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptions<SecurityOptions>>().Value;
        var loggers = services.GetRequiredService<ILoggerFactory>();
        List<IAclSource> sources = [services.GetRequiredService<StoredAclSource>()];
        if (options.AclFile is { } path)
        {
            try
            {
                sources.Add(AclFile.Open(FullPath(services.GetRequiredService<IHostEnvironment>(), path), loggers.CreateLogger<AclFile>()));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Checked at validation; this is a file that went away since, or one the host may not read.
                throw new OptionsValidationException(SecurityOptions.SectionName, typeof(SecurityOptions), [$"The ACL file cannot be read: {e.Message}"]);
            }
        }

        var defaultAllow = (options.AclDefault ?? (options.AclFile is not null ? AclDefault.Deny : AclDefault.Allow)) == AclDefault.Allow;
        var audit = options.AccessAudit;
        return new MqttAuthorization(new Authorizer(sources, defaultAllow, options.DenyAction == DenyAction.Disconnect, loggers.CreateLogger<Authorizer>())
        {
            SubscribeRefusal = options.SubscribeRefusalCode == SubscribeRefusalCode.UnspecifiedError ? ReasonCode.UnspecifiedError : ReasonCode.NotAuthorized,
            Audit = audit.MaxPerSecond == 0 ? null : new AccessAudit(services.GetRequiredService<IAccessAuditLog>(), audit.RecordAllowed, audit.MaxPerSecond,
                loggers.CreateLogger<AccessAudit>(), services.GetRequiredService<TimeProvider>(), audit.Retention),
        });
    }

    private static string FullPath(IHostEnvironment environment, string path) => Path.GetFullPath(path, environment.ContentRootPath);

    [LoggerMessage(EventId = 1152, Level = LogLevel.Information,
        Message = "MQTT authorization: {Rules} access rules ({Stored} stored, with {Roles} users holding roles and {Superusers} superusers); what no rule speaks about is {Default}; a refusal does {DenyAction}; the access audit records {Audited}, at most {MaxPerSecond} a second, and keeps entries for {MaxAge}, at most {MaxEntries} of them")]
    private static partial void LogAuthorization(ILogger logger, int rules, int stored, int roles, int superusers, string @default, DenyAction denyAction,
        string audited, int maxPerSecond, TimeSpan maxAge, long maxEntries);

    private sealed class AclFileExists(IHostEnvironment environment) : IValidateOptions<SecurityOptions>
    {
        public ValidateOptionsResult Validate(string? name, SecurityOptions options) =>
            options.AclFile is { } path && !File.Exists(FullPath(environment, path))
                ? ValidateOptionsResult.Fail($"{SecurityOptions.SectionName}:{nameof(SecurityOptions.AclFile)} '{FullPath(environment, path)}' does not exist.")
                : ValidateOptionsResult.Success;
    }

    /// <summary>
    /// Reads the stored rules at start: after storage opened (and migrated) the database, before the brokers start and
    /// take clients, so no client is ever decided on without them.
    /// </summary>
    private sealed class StoredRulesAtStart(StoredAclSource stored, MqttAuthorization authorization, IOptions<SecurityOptions> options,
        ILogger<MqttAuthorization> logger) : IHostedService
    {
        public async Task StartAsync(CancellationToken cancellationToken)
        {
            await stored.LoadAsync();
            var authorizer = authorization.Authorizer;
            authorizer.Audit?.StartPruning(); // the store's tables exist now
            var audit = options.Value.AccessAudit;
            LogAuthorization(logger, authorizer.RuleCount, stored.Rules.Count, stored.Users.Roles.Count, stored.Users.Superusers.Count,
                authorizer.DefaultAllow ? "allowed" : "denied", options.Value.DenyAction,
                audit.MaxPerSecond == 0 ? "nothing" : audit.RecordAllowed ? "every decision" : "refusals", audit.MaxPerSecond, audit.MaxAge, audit.MaxEntries);
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

internal static class MqttAuthorizationSetup
{
    public static IServiceCollection AddMqttAuthorization(this IServiceCollection services)
    {
        MqttAuthorization.Register(services);
        return services;
    }
}
