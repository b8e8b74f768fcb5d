using System.ComponentModel;
using IoTHub.Broker.Security.Bans;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Http.HttpResults;

namespace IoTHub.Web.Api.Bans;

/// <summary>A ban of MQTT logins in force.</summary>
/// <param name="Kind">address (a client IP address) or user (a user name).</param>
/// <param name="Value">The address, e.g. 192.0.2.7, or the user name.</param>
/// <param name="Failures">The failed logins within Security:Bans:Window that started it.</param>
/// <param name="Until">When it ends.</param>
internal sealed record BanInfo(string Kind, string Value, int Failures, DateTimeOffset Until)
{
    public static BanInfo From(ActiveBan ban) => new(BansApi.KindName(ban.Kind), ban.Value, ban.Failures, ban.Until);
}

/// <summary>/api/v1/bans: the bans of brute-force protection (docs/security.md); list, lift.</summary>
internal static class BansApi
{
    public static IEndpointRouteBuilder MapBansApi(this IEndpointRouteBuilder api)
    {
        var bans = api.MapGroup("/bans").WithTags("Bans");
        bans.MapGet("/", List).WithName("ListBans")
            .WithSummary("Lists the bans of MQTT logins in force (client addresses and user names with too many failed logins), addresses first.");
        bans.MapDelete("/{kind}/{value}", Lift).WithName("LiftBan")
            .WithSummary("Lifts a ban at once and forgets its failed logins; kind is address or user.")
            .ProducesProblem(StatusCodes.Status404NotFound)
            .RequireAuthorization(AdminRoles.ChangePolicy);
        return api;
    }

    /// <summary>The name of a kind in the API and in metrics labels.</summary>
    public static string KindName(BanKind kind) => kind == BanKind.Address ? "address" : "user";

    private static Results<Ok<ResultPage<BanInfo>>, ValidationProblem> List(BanList bans, [AsParameters] PageQuery paging)
    {
        var errors = new ValidationErrors();
        paging.Validate(errors);
        return errors.Any ? errors.ToResult() : TypedResults.Ok(paging.Apply(bans.Active().Select(BanInfo.From)));
    }

    private static Results<NoContent, ValidationProblem, ProblemHttpResult> Lift(BanList bans, [Description("address or user.")] string kind,
        [Description("The IP address or the user name.")] string value)
    {
        BanKind? known = kind == KindName(BanKind.Address) ? BanKind.Address : kind == KindName(BanKind.User) ? BanKind.User : null;
        if (known is null)
        {
            var errors = new ValidationErrors();
            errors.Add("kind", "must be address or user.");
            return errors.ToResult();
        }

        return bans.Lift(known.Value, value) ? TypedResults.NoContent() : ApiProblems.NotFound($"There is no ban of {kind} {value}.");
    }
}
