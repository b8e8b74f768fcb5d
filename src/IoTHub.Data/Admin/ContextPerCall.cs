using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;

namespace IoTHub.Data.Admin;

/// <summary>How the admin stores use the database: a context of its own for each call, disposed after it.</summary>
internal static class ContextPerCall
{
    public static async Task<T> RunAsync<T>(this IDbContextFactory<BrokerDbContext> contexts, Func<BrokerDbContext, Task<T>> work)
    {
        await using var context = contexts.CreateDbContext();
        return await work(context).ConfigureAwait(false);
    }

    /// <summary>The one row of <paramref name="table"/> that matches, as a <typeparamref name="T"/>; null when none does.</summary>
    public static Task<T?> FindAsync<TRow, T>(this IDbContextFactory<BrokerDbContext> contexts, Func<BrokerDbContext, DbSet<TRow>> table,
        Expression<Func<TRow, bool>> match, Func<TRow, T> read, CancellationToken cancellationToken)
        where TRow : class
        where T : class =>
        contexts.RunAsync(async context =>
            await table(context).AsNoTracking().SingleOrDefaultAsync(match, cancellationToken).ConfigureAwait(false) is { } row ? read(row) : null);

    /// <summary>Every row of <paramref name="table"/> in the order of <paramref name="orderBy"/>, each as a <typeparamref name="T"/>.</summary>
    public static Task<IReadOnlyList<T>> ListAsync<TRow, TKey, T>(this IDbContextFactory<BrokerDbContext> contexts, Func<BrokerDbContext, DbSet<TRow>> table,
        Expression<Func<TRow, TKey>> orderBy, Func<TRow, T> read, CancellationToken cancellationToken)
        where TRow : class =>
        contexts.RunAsync<IReadOnlyList<T>>(async context =>
            [.. (await table(context).AsNoTracking().OrderBy(orderBy).ToListAsync(cancellationToken).ConfigureAwait(false)).Select(read)]);

    /// <summary>
    /// Inserts <paramref name="row"/> unless a row that matches <paramref name="existing"/> is there; false then. Racers that
    /// both pass the check are told apart by the table's unique index: the loser's insert fails and it gets false.
    /// </summary>
    public static Task<bool> AddUniqueAsync<TRow>(this IDbContextFactory<BrokerDbContext> contexts, Func<BrokerDbContext, DbSet<TRow>> table,
        Expression<Func<TRow, bool>> existing, TRow row, CancellationToken cancellationToken)
        where TRow : class =>
        contexts.RunAsync(async context =>
        {
            var rows = table(context);
            if (await rows.AnyAsync(existing, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            rows.Add(row);
            try
            {
                await context.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (DbUpdateException)
            {
                // Added by someone else between the check and the insert (the unique index refused it).
                return false;
            }
        });

    /// <summary>Deletes the rows of <paramref name="table"/> that match; false when none did.</summary>
    public static Task<bool> DeleteAsync<TRow>(this IDbContextFactory<BrokerDbContext> contexts, Func<BrokerDbContext, DbSet<TRow>> table,
        Expression<Func<TRow, bool>> match, CancellationToken cancellationToken)
        where TRow : class =>
        contexts.RunAsync(async context => await table(context).Where(match).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) > 0);
}
