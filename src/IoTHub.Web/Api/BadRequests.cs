using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.WebUtilities;

namespace IoTHub.Web.Api;

/// <summary>
/// Every problem answered the same way: the status's own title (one per status), a <c>type</c>,
/// requests the framework cannot bind (a query value that is not a number, a body that is not JSON,
/// a JSON field the request does not have) as 400 with the errors by field, and a 403 that names
/// the role needed.
/// </summary>
internal static class BadRequests
{
    public static IServiceCollection AddBadRequestProblems(this IServiceCollection services)
    {
        services.Configure<RouteHandlerOptions>(static options => options.ThrowOnBadRequest = true);
        services.AddProblemDetails(static options => options.CustomizeProblemDetails = static context =>
        {
            var problem = context.ProblemDetails;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            problem.Title = ReasonPhrases.GetReasonPhrase(status);
            // RFC 9457 4.2.1: about:blank when the status says it all; the framework fills in the RFC 9110 section where it knows one.
            problem.Type ??= "about:blank";
            if (context.Exception is BadHttpRequestException bad)
            {
                var error = UnboundRequest.Describe(bad, context.HttpContext);
                if (error.Field is { } field)
                {
                    problem.Detail = $"{field} {error.Message}";
                    problem.Extensions["errors"] = new Dictionary<string, string[]> { [field] = [error.Message] };
                }
                else
                {
                    problem.Detail = error.Message;
                }
            }
            else if (status == StatusCodes.Status403Forbidden && problem.Detail is null)
            {
                problem.Detail = ForbiddenDetail(context.HttpContext);
            }
        });
        return services;
    }

    public static WebApplication UseBadRequestProblems(this WebApplication app)
    {
        // Answered here rather than by the exception handler, which re-runs the pipeline for the
        // error response: after a body that is not JSON that leaves Kestrel's request reader busy.
        app.Use(static async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (BadHttpRequestException bad) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                context.Response.StatusCode = bad.StatusCode;
                await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context,
                    Exception = bad,
                });
            }
        });
        app.UseStatusCodePages();
        return app;
    }

    private static string? ForbiddenDetail(HttpContext context)
    {
        var changes = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>().Any(static a => a.Policy == AdminRoles.ChangePolicy) ?? false;
        return changes
            ? $"This needs the {AdminRoles.Admin} role; '{context.User.Identity?.Name}' is a {AdminRoles.Viewer}, who may only read."
            : null;
    }
}
