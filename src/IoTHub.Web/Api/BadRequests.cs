using Microsoft.AspNetCore.Routing;

namespace IoTHub.Web.Api;

/// <summary>
/// Requests the framework cannot bind (a query value that is not a number, a body that is not JSON)
/// answer 400 ProblemDetails that say what was wrong, like the API's own validation does.
/// </summary>
internal static class BadRequests
{
    public static IServiceCollection AddBadRequestProblems(this IServiceCollection services)
    {
        services.Configure<RouteHandlerOptions>(static options => options.ThrowOnBadRequest = true);
        services.AddProblemDetails(static options => options.CustomizeProblemDetails = static context =>
        {
            if (context.Exception is BadHttpRequestException bad)
            {
                context.ProblemDetails.Title = "The request is not valid.";
                context.ProblemDetails.Detail = bad.Message;
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
}
