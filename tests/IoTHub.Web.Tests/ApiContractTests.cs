using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace IoTHub.Web.Tests;

/// <summary>
/// The REST contract, checked on every operation of the OpenAPI document that takes a JSON body, an
/// enum, a page number or a topic in its path, so new endpoints are covered as they are added.
/// </summary>
public sealed class ApiContractTests(AdminApiHost host) : IClassFixture<AdminApiHost>
{
    private const string UnknownField = "notAField";

    [Fact]
    public async Task Every_json_body_refuses_an_unknown_field_by_name()
    {
        var admin = await host.AdminAsync();
        var operations = (await OperationsAsync(admin)).Where(static o => o.Body is not null).ToList();

        Assert.NotEmpty(operations);
        foreach (var operation in operations)
        {
            var response = await admin.SendAsync(operation.Request("{\"" + UnknownField + "\":true}"));

            var errors = await ErrorsAsync(operation, response);
            Assert.True(errors.TryGetProperty(UnknownField, out _), $"{operation}: {errors}");
        }
    }

    [Fact]
    public async Task Every_enum_refuses_a_value_it_does_not_have_naming_the_allowed_ones()
    {
        var admin = await host.AdminAsync();
        var checkedEnums = 0;
        foreach (var operation in await OperationsAsync(admin))
        {
            foreach (var (field, values) in operation.BodyEnums)
            {
                var response = await admin.SendAsync(operation.Request("{\"" + field + "\":\"NotAValue\"}"));

                var message = (await ErrorsAsync(operation, response)).GetProperty(field)[0].GetString()!;
                Assert.All(values, value => Assert.Contains(value, message, StringComparison.Ordinal));
                checkedEnums++;
            }

            foreach (var (parameter, values) in operation.QueryEnums)
            {
                var response = await admin.SendAsync(operation.Request(query: $"{parameter}=NotAValue"));

                var message = (await ErrorsAsync(operation, response)).GetProperty(parameter)[0].GetString()!;
                Assert.All(values, value => Assert.Contains(value, message, StringComparison.Ordinal));
                checkedEnums++;
            }
        }

        Assert.NotEqual(0, checkedEnums);
    }

    [Fact]
    public async Task Every_page_number_that_is_not_a_whole_number_from_1_is_refused_by_field()
    {
        var admin = await host.AdminAsync();
        var operations = (await OperationsAsync(admin)).Where(static o => o.Query.Contains("page")).ToList();

        Assert.NotEmpty(operations);
        foreach (var operation in operations)
        {
            foreach (var page in new[] { "abc", "0", "1.5" })
            {
                var errors = await ErrorsAsync(operation, await admin.SendAsync(operation.Request(query: $"page={page}")));
                Assert.True(errors.TryGetProperty("page", out _), $"{operation} page={page}: {errors}");
            }
        }
    }

    [Fact]
    public async Task Every_topic_in_a_path_may_be_percent_encoded()
    {
        var admin = await host.AdminAsync();
        var operations = (await OperationsAsync(admin))
            .Where(static o => o.Path.Contains("{topic}", StringComparison.Ordinal) && o.Method != HttpMethod.Put).ToList();

        Assert.NotEmpty(operations);
        foreach (var operation in operations)
        {
            // Nothing is retained there: the 404 names the topic as decoded, %2F included.
            var response = await admin.SendAsync(new HttpRequestMessage(operation.Method, operation.Path.Replace("{topic}", "contract%2Fnone%2523", StringComparison.Ordinal)));

            var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.NotFound);
            Assert.Contains("'contract/none%23'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_misspelt_field_is_refused_and_nothing_is_published()
    {
        var admin = await host.AdminAsync();

        var response = await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "contract/misspelt", payload = "x", retained = true });

        var errors = await ErrorsAsync("POST /api/v1/publish", response);
        Assert.StartsWith("is not a field of this request; its fields are topic, payload, encoding, qos, retain,",
            errors.GetProperty("retained")[0].GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/retained/contract/misspelt"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Binding_errors_say_what_the_field_must_be()
    {
        var admin = await host.AdminAsync();

        var page = await ErrorsAsync("page=abc", await admin.GetAsync("/api/v1/clients?page=abc"));
        var encoding = await ErrorsAsync("POST /api/v1/publish", await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", encoding = "Base65" }));
        var qos = await ErrorsAsync("POST /api/v1/publish", await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", qos = "one" }));
        var nested = await ErrorsAsync("POST /api/v1/publish", await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "t", properties = new { contentTyp = "a" } }));

        Assert.Equal("must be a whole number (got 'abc').", page.GetProperty("page")[0].GetString());
        Assert.Equal("must be one of Text, Base64.", encoding.GetProperty("encoding")[0].GetString());
        Assert.Equal("must be a whole number.", qos.GetProperty("qos")[0].GetString());
        Assert.StartsWith("is not a field of this request", nested.GetProperty("properties.contentTyp")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_status_has_one_title_and_every_problem_a_type_and_403_names_the_role()
    {
        var admin = await host.AdminAsync();
        var viewer = await host.ViewerAsync();
        using var anonymous = host.NewClient();

        var notFound = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/clients/nobody"), HttpStatusCode.NotFound);
        var unknownBroker = await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/clients?broker=nope"), HttpStatusCode.NotFound);
        var invalid = await ProblemAssert.IsProblemAsync(await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "a/+" }), HttpStatusCode.BadRequest);
        var unauthorized = await ProblemAssert.IsProblemAsync(await anonymous.GetAsync("/api/v1/clients"), HttpStatusCode.Unauthorized);
        var wrongPassword = await ProblemAssert.IsProblemAsync(
            await anonymous.PostAsJsonAsync("/api/v1/auth/login", new { userName = "nobody", password = "wrong" }), HttpStatusCode.Unauthorized);
        var forbidden = await ProblemAssert.IsProblemAsync(await viewer.PostAsJsonAsync("/api/v1/publish", new { topic = "t" }), HttpStatusCode.Forbidden);

        Assert.Equal(["Not Found"], new[] { notFound, unknownBroker }.Select(static p => p.GetProperty("title").GetString()).Distinct());
        Assert.Equal("Bad Request", invalid.GetProperty("title").GetString());
        Assert.Equal(["Unauthorized"], new[] { unauthorized, wrongPassword }.Select(static p => p.GetProperty("title").GetString()).Distinct());
        Assert.Equal("Forbidden", forbidden.GetProperty("title").GetString());
        Assert.All(new[] { notFound, unknownBroker, invalid, unauthorized, wrongPassword, forbidden },
            static p => Assert.False(string.IsNullOrEmpty(p.GetProperty("type").GetString()), p.ToString()));
        Assert.Contains("needs the admin role", forbidden.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_retained_topic_may_be_percent_encoded_or_given_as_a_query_parameter()
    {
        var admin = await host.AdminAsync();

        var set = await admin.PutAsJsonAsync("/api/v1/retained/site%2Fline-1", new { payload = "on" });
        var setEscaped = await admin.PutAsJsonAsync("/api/v1/retained/site%252Fline-2", new { payload = "on" });
        var plain = await admin.GetAsync("/api/v1/retained/site/line-1");
        var escaped = await admin.GetAsync("/api/v1/retained/site%252Fline-2");
        var byQuery = await admin.GetFromJsonAsync<JsonElement>("/api/v1/retained?topic=site/line-1");
        var setByQuery = await admin.PutAsJsonAsync("/api/v1/retained?topic=site/line-3", new { payload = "on" });
        var delete = await admin.DeleteAsync("/api/v1/retained/site%2Fline-1");
        var afterDelete = await admin.GetAsync("/api/v1/retained/site%2Fline-1");

        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        Assert.Equal(HttpStatusCode.OK, setEscaped.StatusCode);
        Assert.Equal("site/line-3", (await setByQuery.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("topic").GetString());
        Assert.Equal("site/line-1", (await plain.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("topic").GetString());
        Assert.Equal("site%2Fline-2", (await escaped.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("topic").GetString());
        Assert.Equal(["site/line-1"], byQuery.GetProperty("items").EnumerateArray().Select(static m => m.GetProperty("topic").GetString()));
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await ProblemAssert.IsProblemAsync(afterDelete, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Writes_under_sys_are_refused_and_nothing_is_stored()
    {
        var admin = await host.AdminAsync();

        var retained = await ErrorsAsync("PUT /api/v1/retained/{topic}",
            await admin.PutAsJsonAsync("/api/v1/retained/$SYS/fake", new { payload = "x" }));
        var published = await ErrorsAsync("POST /api/v1/publish",
            await admin.PostAsJsonAsync("/api/v1/publish", new { topic = "$SYS/broker/uptime", payload = "0", retain = true }));

        Assert.Contains("$SYS/", retained.GetProperty("topic")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("$SYS/", published.GetProperty("topic")[0].GetString(), StringComparison.Ordinal);
        var deleted = await ErrorsAsync("DELETE /api/v1/retained/$SYS/broker/uptime", await admin.DeleteAsync("/api/v1/retained/%24SYS/broker/uptime"));
        var deletedByFilter = await ErrorsAsync("DELETE /api/v1/retained?topicFilter=$SYS/#", await admin.DeleteAsync("/api/v1/retained?topicFilter=%24SYS/%23"));

        Assert.Contains("$SYS/", deleted.GetProperty("topic")[0].GetString(), StringComparison.Ordinal);
        Assert.Contains("$SYS/", deletedByFilter.GetProperty("topicFilter")[0].GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(await admin.GetAsync("/api/v1/retained/$SYS/fake"), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Answers_with_a_token_or_a_key_are_not_stored_by_caches()
    {
        var admin = await host.AdminAsync();

        var login = await host.Client.PostAsJsonAsync("/api/v1/auth/login", new { userName = "admin", password = AdminApiHost.AdminPassword });
        var key = await admin.PostAsJsonAsync("/api/v1/api-keys", new { name = "contract", role = "viewer" });

        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        Assert.True(login.Headers.CacheControl?.NoStore, login.Headers.ToString());
        Assert.True(key.Headers.CacheControl?.NoStore, key.Headers.ToString());
    }

    /// <summary>A 400 problem with the status's title, a type, no .NET type names, and errors by field; returns the errors.</summary>
    private static async Task<JsonElement> ErrorsAsync(object request, HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{request}: {(int)response.StatusCode} {text}");
        foreach (var typeName in new[] { "IoTHub.", "System.", "Nullable", "Int32", "String " })
        {
            Assert.DoesNotContain(typeName, text, StringComparison.Ordinal);
        }

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal("Bad Request", problem.GetProperty("title").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("type").GetString()));
        return problem.GetProperty("errors");
    }

    private static async Task<IReadOnlyList<Operation>> OperationsAsync(HttpClient client)
    {
        using var document = JsonDocument.Parse(await client.GetStringAsync("/swagger/v1/swagger.json"));
        var root = document.RootElement;
        var operations = new List<Operation>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            foreach (var method in path.Value.EnumerateObject())
            {
                var parameters = method.Value.TryGetProperty("parameters", out var list) ? list.EnumerateArray().ToList() : [];
                var query = parameters.Where(static p => p.GetProperty("in").GetString() == "query").ToList();
                JsonElement? body = method.Value.TryGetProperty("requestBody", out var requestBody)
                    && requestBody.GetProperty("content").TryGetProperty("application/json", out var json)
                    ? Resolve(root, json.GetProperty("schema"))
                    : null;
                operations.Add(new Operation(
                    new HttpMethod(method.Name.ToUpperInvariant()),
                    path.Name,
                    [.. query.Select(static p => p.GetProperty("name").GetString()!)],
                    body,
                    body is { } schema && schema.TryGetProperty("properties", out var properties)
                        ? [.. properties.EnumerateObject().Select(p => (p.Name, Values: EnumValues(root, p.Value))).Where(static p => p.Values.Count > 0)]
                        : [],
                    [.. query.Select(p => (p.GetProperty("name").GetString()!, Values: EnumValues(root, p.GetProperty("schema")))).Where(static p => p.Values.Count > 0)]));
            }
        }

        return operations;
    }

    /// <summary>A schema with its $ref followed (also through allOf, oneOf and anyOf, as nullable references are written).</summary>
    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        if (schema.TryGetProperty("$ref", out var reference))
        {
            var name = reference.GetString()!.Split('/')[^1];
            return Resolve(root, root.GetProperty("components").GetProperty("schemas").GetProperty(name));
        }

        foreach (var combination in new[] { "allOf", "oneOf", "anyOf" })
        {
            if (schema.TryGetProperty(combination, out var parts))
            {
                foreach (var part in parts.EnumerateArray())
                {
                    var resolved = Resolve(root, part);
                    if (resolved.TryGetProperty("enum", out _) || resolved.TryGetProperty("properties", out _))
                    {
                        return resolved;
                    }
                }
            }
        }

        return schema;
    }

    private static IReadOnlyList<string> EnumValues(JsonElement root, JsonElement schema) =>
        Resolve(root, schema).TryGetProperty("enum", out var values)
            ? [.. values.EnumerateArray().Where(static v => v.ValueKind == JsonValueKind.String).Select(static v => v.GetString()!)]
            : [];

    private sealed record Operation(HttpMethod Method, string Path, IReadOnlyList<string> Query, JsonElement? Body,
        IReadOnlyList<(string Field, IReadOnlyList<string> Values)> BodyEnums, IReadOnlyList<(string Parameter, IReadOnlyList<string> Values)> QueryEnums)
    {
        /// <summary>This operation with every path parameter "1" (a valid id, client id, user name or topic alike).</summary>
        public HttpRequestMessage Request(string? json = null, string? query = null)
        {
            var path = System.Text.RegularExpressions.Regex.Replace(Path, "{[^}]+}", "1");
            return new HttpRequestMessage(Method, query is null ? path : $"{path}?{query}")
            {
                Content = json is null && Body is null ? null : new StringContent(json ?? "{}", Encoding.UTF8, "application/json"),
            };
        }

        public override string ToString() => $"{Method} {Path}";
    }
}
