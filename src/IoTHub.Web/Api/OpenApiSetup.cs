using System.ComponentModel;
using System.Reflection;
using System.Text.Json.Serialization;
using IoTHub.Web.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace IoTHub.Web.Api;

/// <summary>The OpenAPI document (Swashbuckle) at /swagger/v1/swagger.json, and the Swagger UI at /swagger.</summary>
internal static class OpenApiSetup
{
    public const string DocumentName = "v1";
    public const string SecuritySchemeName = "Bearer";
    public const string ApiKeySchemeName = "ApiKey";

    public static IServiceCollection AddAdminOpenApi(this IServiceCollection services)
    {
        services.ConfigureHttpJsonOptions(static json =>
        {
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            // As the document says (additionalProperties: false): a misspelt field is refused, not ignored (BadRequests names it).
            json.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        });
        services.AddEndpointsApiExplorer();
        services.AddSwaggerGen(static swagger =>
        {
            swagger.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "IoTHub admin API",
                Version = DocumentName,
                Description = "Administration of the IoTHub MQTT broker: brokers and listeners, clients, sessions, subscriptions, " +
                    "retained messages, publishing and statistics. Get a token from POST /api/v1/auth/login and send it as " +
                    "`Authorization: Bearer <token>`, or send an API key (POST /api/v1/api-keys) as `X-Api-Key`. " +
                    "Viewers may read; changes need the admin role (403 otherwise) and are audited (GET /api/v1/audit). " +
                    "Errors are RFC 9457 problem details; invalid input answers 400 with the errors by field.",
            });
            swagger.AddSecurityDefinition(SecuritySchemeName, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "A token from POST /api/v1/auth/login.",
            });
            swagger.AddSecurityDefinition(ApiKeySchemeName, new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AdminApiKeys.Header,
                Description = "An API key from POST /api/v1/api-keys.",
            });
            swagger.OperationFilter<SecurityRequirementFilter>();
            swagger.SchemaFilter<OpenApiExamples>();
            swagger.OperationFilter<ParameterDescriptionFilter>();

            // The <param> docs of the request and response records describe their properties.
            swagger.IncludeXmlComments(Path.Combine(AppContext.BaseDirectory, $"{typeof(OpenApiSetup).Assembly.GetName().Name}.xml"));
            // ResultPage<ClientSummary> is "ClientSummaryPage" in the document.
            swagger.CustomSchemaIds(static type => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ResultPage<>)
                ? $"{type.GetGenericArguments()[0].Name}Page"
                : type.Name);
        });
        return services;
    }

    /// <summary>Where the Swagger UI is served.</summary>
    public const string UiPath = "/swagger";

    public static WebApplication UseAdminOpenApi(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(static ui =>
        {
            ui.SwaggerEndpoint($"/swagger/{DocumentName}/swagger.json", "IoTHub admin API v1");
            ui.RoutePrefix = UiPath.TrimStart('/');
            ui.DocumentTitle = "IoTHub admin API";
        });
        return app;
    }

    /// <summary>Marks the operations that need a token, and documents their 401 (and 403 for changes), answered as problem details.</summary>
    private sealed class SecurityRequirementFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var metadata = context.ApiDescription.ActionDescriptor.EndpointMetadata;
            if (metadata.OfType<IAllowAnonymous>().Any())
            {
                return;
            }

            // Either a bearer token or an API key.
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SecuritySchemeName, context.Document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeySchemeName, context.Document)] = [] },
            ];
            operation.Responses ??= [];
            var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
            operation.Responses.TryAdd("401", Problem("No valid bearer token or API key.", problem));
            if (metadata.OfType<IAuthorizeData>().Any(static a => a.Policy == AdminRoles.ChangePolicy))
            {
                operation.Responses.TryAdd("403", Problem("The account is a viewer; changes need the admin role.", problem));
            }
        }

        private static OpenApiResponse Problem(string description, IOpenApiSchema schema) => new()
        {
            Description = description,
            Content = new Dictionary<string, IOpenApiMediaType> { ["application/problem+json"] = new OpenApiMediaType { Schema = schema } },
        };
    }

    /// <summary>Query parameters get the text of their [Description] (on the handler's parameter, or on a property of an [AsParameters] type).</summary>
    private sealed class ParameterDescriptionFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            if (context.MethodInfo is null || operation.Parameters is null)
            {
                return;
            }

            var descriptions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var parameter in context.MethodInfo.GetParameters())
            {
                if (parameter.GetCustomAttribute<DescriptionAttribute>() is { } own && parameter.Name is { } name)
                {
                    descriptions[name] = own.Description;
                }

                if (parameter.GetCustomAttribute<AsParametersAttribute>() is not null)
                {
                    foreach (var property in parameter.ParameterType.GetProperties())
                    {
                        if (property.GetCustomAttribute<DescriptionAttribute>() is { } text)
                        {
                            descriptions[property.GetCustomAttribute<FromQueryAttribute>()?.Name ?? property.Name] = text.Description;
                        }
                    }
                }
            }

            foreach (var parameter in operation.Parameters.OfType<OpenApiParameter>())
            {
                if (parameter.Name is { } name && descriptions.TryGetValue(name, out var description))
                {
                    parameter.Description = description;
                }
            }
        }
    }
}
