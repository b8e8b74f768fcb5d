using IoTHub.Web.Api.Accounts;
using IoTHub.Web.Api.AclRules;
using IoTHub.Web.Api.Alarms;
using IoTHub.Web.Api.ApiKeys;
using IoTHub.Web.Api.Audit;
using IoTHub.Web.Api.Auth;
using IoTHub.Web.Api.Bans;
using IoTHub.Web.Api.Brokers;
using IoTHub.Web.Api.Clients;
using IoTHub.Web.Api.Cluster;
using IoTHub.Web.Api.Config;
using IoTHub.Web.Api.Listeners;
using IoTHub.Web.Api.MqttUsers;
using IoTHub.Web.Api.Publish;
using IoTHub.Web.Api.Retained;
using IoTHub.Web.Api.Roles;
using IoTHub.Web.Api.Sessions;
using IoTHub.Web.Api.Statistics;
using IoTHub.Web.Api.Subscriptions;

namespace IoTHub.Web.Api;

/// <summary>The REST admin API under /api/v1, one group per feature.</summary>
internal static class AdminApi
{
    public const string Prefix = "/api/v1";

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder endpoints)
    {
        // Every endpoint needs a token (the fallback policy says so too); login opts out, changes need the admin role. AdminAudit writes the audit log.
        var api = endpoints.MapGroup(Prefix).RequireAuthorization();
        api.MapAuthApi()
            .MapAccountsApi()
            .MapApiKeysApi()
            .MapAuditApi()
            .MapBrokersApi()
            .MapListenersApi()
            .MapClientsApi()
            .MapMqttUsersApi()
            .MapRolesApi()
            .MapAclRulesApi()
            .MapSessionsApi()
            .MapSubscriptionsApi()
            .MapRetainedApi()
            .MapPublishApi()
            .MapStatisticsApi()
            .MapAlarmsApi()
            .MapBansApi()
            .MapConfigApi()
            .MapClusterApi();
        return endpoints;
    }
}
