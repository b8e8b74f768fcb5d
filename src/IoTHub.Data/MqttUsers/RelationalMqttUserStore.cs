using IoTHub.Broker.Security.Users;
using IoTHub.Data.Admin;
using IoTHub.Data.Entities;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.MqttUsers;

/// <summary>The mqtt_users table, a short-lived context per call.</summary>
internal sealed class RelationalMqttUserStore(IDbContextFactory<BrokerDbContext> contexts) : IMqttUserStore
{
    public Task<MqttUser?> FindAsync(string userName, CancellationToken cancellationToken) =>
        contexts.FindAsync(static c => c.MqttUsers, u => u.UserName == userName, ToUser, cancellationToken);

    public Task<IReadOnlyList<MqttUser>> ListAsync(CancellationToken cancellationToken) =>
        contexts.RunAsync<IReadOnlyList<MqttUser>>(async context =>
            // Ordered here: a PostgreSQL collation may not order names the way the memory store does.
            [.. (await context.MqttUsers.AsNoTracking().ToListAsync(cancellationToken).ConfigureAwait(false)).Select(ToUser)
                .OrderBy(static u => u.UserName, StringComparer.Ordinal)]);

    public Task<bool> AddAsync(MqttUser user, CancellationToken cancellationToken) =>
        contexts.AddUniqueAsync(static c => c.MqttUsers, u => u.UserName == user.UserName, new UserEntity
        {
            UserName = user.UserName,
            PasswordHash = user.PasswordHash,
            ScramSha256 = user.ScramSha256,
            Enabled = user.Enabled,
            ClientIdPattern = user.ClientIdPattern,
            Superuser = user.Superuser,
            CreatedAt = user.CreatedAt.ToUnixTimeMilliseconds(),
            ChangedAt = user.ChangedAt.ToUnixTimeMilliseconds(),
        }, cancellationToken);

    public Task<bool> UpdateAsync(MqttUser user, CancellationToken cancellationToken) =>
        contexts.RunAsync(async context => await context.MqttUsers.Where(u => u.UserName == user.UserName).ExecuteUpdateAsync(set => set
            .SetProperty(u => u.PasswordHash, user.PasswordHash)
            .SetProperty(u => u.ScramSha256, user.ScramSha256)
            .SetProperty(u => u.Enabled, user.Enabled)
            .SetProperty(u => u.ClientIdPattern, user.ClientIdPattern)
            .SetProperty(u => u.Superuser, user.Superuser)
            .SetProperty(u => u.ChangedAt, user.ChangedAt.ToUnixTimeMilliseconds()), cancellationToken).ConfigureAwait(false) > 0);

    public Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken) =>
        contexts.DeleteAsync(static c => c.MqttUsers, u => u.UserName == userName, cancellationToken);

    private static MqttUser ToUser(UserEntity e) =>
        new(e.UserName, e.PasswordHash, e.Enabled, e.ClientIdPattern, DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
            DateTimeOffset.FromUnixTimeMilliseconds(e.ChangedAt), e.ScramSha256, e.Superuser);
}
