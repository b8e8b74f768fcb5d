using System.Net.Http.Headers;
using System.Reflection;
using System.Runtime.Loader;
using IoTHub.Mqtt;
using IoTHub.Testing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using NJsonSchema.CodeGeneration.CSharp;
using NSwag;
using NSwag.CodeGeneration.CSharp;
using NSwag.CodeGeneration.OperationNameGenerators;

namespace IoTHub.Web.Tests;

/// <summary>
/// The OpenAPI document is complete enough to generate a working client: NSwag generates C# from
/// /swagger/v1/swagger.json as an API user would, Roslyn compiles it, and the compiled client logs in,
/// lists clients and publishes against the real host, reading ProblemDetails on errors.
/// </summary>
public sealed class GeneratedClientTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    private const string Namespace = "IoTHub.Generated";

    [Fact]
    public async Task A_client_generated_from_the_openapi_document_logs_in_lists_clients_and_publishes()
    {
        var assembly = await GenerateClientAsync();
        using var http = new HttpClient { BaseAddress = host.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        dynamic client = Activator.CreateInstance(assembly.GetType($"{Namespace}.IoTHubClient")!, http)!;

        // Login: a request body in, a token out.
        dynamic login = New(assembly, "LoginRequest");
        login.UserName = "admin";
        login.Password = AdminApiHost.AdminPassword;
        dynamic token = await client.LoginAsync(login);
        Assert.Equal("admin", (string)token.Role);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (string)token.AccessToken);

        // A list with paging and a filter finds a real MQTT client.
        await using var subscriber = await MqttTestClient.ConnectTcpAsync(host.MqttEndpoint, "generated-client-subscriber", MqttProtocolVersion.V500);
        await subscriber.SubscribeAsync("generated/#", QualityOfService.AtLeastOnce);
        dynamic page = await client.ListClientsAsync(clientId: "generated-client", page: 1, pageSize: 10);
        dynamic found = Assert.Single((IEnumerable<dynamic>)page.Items);
        Assert.Equal("generated-client-subscriber", (string)found.ClientId);
        Assert.Equal("5.0", (string)found.ProtocolVersion);

        // Publish reaches the subscriber.
        dynamic publish = New(assembly, "PublishRequest");
        publish.Topic = "generated/topic";
        publish.Payload = "from a generated client";
        publish.Qos = 1;
        dynamic result = await client.PublishAsync(publish);
        Assert.Equal(1, (int)result.SubscribersReached);
        var message = await subscriber.ExpectPublishAsync();
        Assert.Equal(("generated/topic", "from a generated client"), (message.Topic, message.PayloadText));

        // Errors arrive as typed ProblemDetails.
        var notFound = await Assert.ThrowsAnyAsync<Exception>(() => (Task)client.GetClientAsync("no-such-client"));
        Assert.Equal(404, (int)((dynamic)notFound).StatusCode);
        Assert.Equal(404, (int)((dynamic)notFound).Result.Status);

        dynamic invalid = New(assembly, "PublishRequest");
        invalid.Topic = "wild/#";
        var badRequest = await Assert.ThrowsAnyAsync<Exception>(() => (Task)client.PublishAsync(invalid));
        Assert.Equal(400, (int)((dynamic)badRequest).StatusCode);
        Assert.True(((IDictionary<string, ICollection<string>>)((dynamic)badRequest).Result.Errors).ContainsKey("topic"));

        using var anonymousHttp = new HttpClient { BaseAddress = host.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        dynamic anonymous = Activator.CreateInstance(assembly.GetType($"{Namespace}.IoTHubClient")!, anonymousHttp)!;
        var unauthorized = await Assert.ThrowsAnyAsync<Exception>(() => (Task)anonymous.GetStatisticsAsync());
        Assert.Equal(401, (int)((dynamic)unauthorized).Result.Status);
    }

    private static object New(Assembly assembly, string type) => Activator.CreateInstance(assembly.GetType($"{Namespace}.{type}")!)!;

    /// <summary>Generates the client from the served document and compiles it in memory.</summary>
    private async Task<Assembly> GenerateClientAsync()
    {
        var document = await OpenApiDocument.FromJsonAsync(await host.Client.GetStringAsync("/swagger/v1/swagger.json"));
        var settings = new CSharpClientGeneratorSettings
        {
            ClassName = "IoTHubClient",
            UseBaseUrl = false,
            GenerateClientInterfaces = false,
            GenerateOptionalParameters = true,
            OperationNameGenerator = new SingleClientFromOperationIdOperationNameGenerator(),
        };
        settings.CSharpGeneratorSettings.Namespace = Namespace;
        settings.CSharpGeneratorSettings.JsonLibrary = CSharpJsonLibrary.SystemTextJson;
        var code = new CSharpClientGenerator(document, settings).GenerateFile();

        var references = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(static path => MetadataReference.CreateFromFile(path));
        var compilation = CSharpCompilation.Create("IoTHub.Generated.Client", [CSharpSyntaxTree.ParseText(code)], references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Disable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);
        var errors = emitted.Diagnostics.Where(static d => d.Severity == DiagnosticSeverity.Error).Select(static d => d.ToString()).ToList();
        Assert.True(emitted.Success, string.Join(Environment.NewLine, errors));
        image.Position = 0;
        return new AssemblyLoadContext("generated client", isCollectible: true).LoadFromStream(image);
    }
}
