using System.Collections.Concurrent;
using IoTHub.Data;
using IoTHub.Data.Entities;
using IoTHub.Web.Configuration;
using IoTHub.Web.Storage;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace IoTHub.Web.Audit;

/// <summary>One change made through the admin API.</summary>
/// <param name="At">When.</param>
/// <param name="Actor">The account, or "apikey:{name}", that made it.</param>
/// <param name="Action">Method, path and query, e.g. "POST /api/v1/clients/c1/disconnect"; never the body.</param>
/// <param name="Status">The HTTP status it was answered with.</param>
/// <param name="RemoteAddress">The client's IP address.</param>
internal sealed record AuditEntry(DateTimeOffset At, string Actor, string Action, int Status, string RemoteAddress);

/// <summary>
/// The audit log: in the database with sqlite/postgres (table audit_log), otherwise the newest
/// <see cref="MemoryCapacity"/> entries in memory.
/// </summary>
internal sealed class AuditLog(IOptions<StorageOptions> storage, IHostEnvironment environment)
{
    public const int MemoryCapacity = 10_000;

    private readonly DbContextOptions<BrokerDbContext>? _database = BrokerStorage.RelationalContextOptions(storage.Value, environment);
    private readonly ConcurrentQueue<AuditEntry> _memory = new();

    public async Task WriteAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        if (_database is null)
        {
            _memory.Enqueue(entry);
            while (_memory.Count > MemoryCapacity && _memory.TryDequeue(out _))
            {
            }

            return;
        }

        await using var context = new BrokerDbContext(_database);
        context.AuditLog.Add(new AuditEntryEntity
        {
            At = entry.At.ToUnixTimeMilliseconds(),
            Actor = entry.Actor,
            Action = entry.Action,
            Status = entry.Status,
            RemoteAddress = entry.RemoteAddress,
        });
        await context.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Newest first; <paramref name="actor"/> filters by exact actor.</summary>
    public async Task<(IReadOnlyList<AuditEntry> Entries, int Total)> ReadAsync(string? actor, int skip, int take, CancellationToken cancellationToken)
    {
        if (_database is null)
        {
            var matching = _memory.Reverse().Where(e => actor is null || e.Actor == actor).ToList();
            return ([.. matching.Skip(skip).Take(take)], matching.Count);
        }

        await using var context = new BrokerDbContext(_database);
        var query = context.AuditLog.AsNoTracking().Where(e => actor == null || e.Actor == actor);
        var total = await query.CountAsync(cancellationToken);
        var rows = await query.OrderByDescending(static e => e.Id).Skip(skip).Take(take).ToListAsync(cancellationToken);
        return ([.. rows.Select(static e => new AuditEntry(DateTimeOffset.FromUnixTimeMilliseconds(e.At), e.Actor, e.Action, e.Status, e.RemoteAddress))], total);
    }
}

/// <summary>Writes every change made through the API (any method but GET/HEAD/OPTIONS on an endpoint that needs a token).</summary>
internal static class AuditFilter
{
    public static TBuilder AddAudit<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(static async (context, next) =>
        {
            var result = await next(context);
            var http = context.HttpContext;
            var request = http.Request;
            if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)
                || http.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.Authorization.IAllowAnonymous>() is not null)
            {
                return result;
            }

            // Results<A, B> wraps the result that was chosen.
            var answered = result is INestedHttpResult nested ? nested.Result : result;
            var status = answered is IStatusCodeHttpResult { StatusCode: { } code } ? code : http.Response.StatusCode;
            var entry = new AuditEntry(DateTimeOffset.UtcNow, http.User.Identity?.Name ?? "(unknown)",
                $"{request.Method} {request.Path}{request.QueryString}", status, http.Connection.RemoteIpAddress?.ToString() ?? "(unknown)");
            await http.RequestServices.GetRequiredService<AuditLog>().WriteAsync(entry, CancellationToken.None);
            return result;
        });
}
