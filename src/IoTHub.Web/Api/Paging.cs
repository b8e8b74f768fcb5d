using System.Buffers;
using System.ComponentModel;
using Microsoft.AspNetCore.Mvc;

namespace IoTHub.Web.Api;

/// <summary>The page of a list to return: <c>page</c> (from 1) and <c>pageSize</c> (1 to 500, default 50).</summary>
internal sealed class PageQuery
{
    public const int DefaultPageSize = 50;
    public const int MaximumPageSize = 500;

    [FromQuery(Name = "page")]
    [Description("Page number, from 1 (default 1).")]
    public int? Page { get; set; }

    [FromQuery(Name = "pageSize")]
    [Description("Items per page, 1 to 500 (default 50).")]
    public int? PageSize { get; set; }

    public void Validate(ValidationErrors errors)
    {
        if (Page is < 1)
        {
            errors.Add("page", "must be 1 or more.");
        }

        if (PageSize is < 1 or > MaximumPageSize)
        {
            errors.Add("pageSize", $"must be from 1 to {MaximumPageSize}.");
        }
    }

    /// <summary>How many items come before this page.</summary>
    public int Skip => (int)Math.Min(int.MaxValue, ((long)(Page ?? 1) - 1) * Size);

    /// <summary>The page size asked for, or the default.</summary>
    public int Size => PageSize ?? DefaultPageSize;

    /// <summary>The requested page of <paramref name="items"/>, which are already filtered and in order.</summary>
    public ResultPage<T> Apply<T>(IEnumerable<T> items)
    {
        var all = items as IReadOnlyList<T> ?? [.. items];
        IReadOnlyList<T> slice = Skip >= all.Count ? [] : [.. all.Skip(Skip).Take(Size)];
        return new ResultPage<T>(slice, Page ?? 1, Size, all.Count);
    }

    /// <summary>
    /// The requested page of <paramref name="items"/> (filtered, in no order) in the order of their keys, without sorting
    /// them all: see <see cref="PageSelection"/>.
    /// </summary>
    /// <param name="items">The items of the whole list, filtered.</param>
    /// <param name="key">What an item is ordered by: a small value, read once per item.</param>
    /// <param name="order">A total order of the keys: no two items of the list compare equal (end it with a unique key such as the client id).
    /// A struct is compared without a call through the interface.</param>
    public ResultPage<T> Select<T, TKey, TOrder>(IEnumerable<T> items, Func<T, TKey> key, TOrder order)
        where TOrder : IComparer<TKey>
    {
        var (slice, total) = PageSelection.Select(items, key, Skip, Size, order);
        return new ResultPage<T>(slice, Page ?? 1, Size, total);
    }
}

/// <summary>
/// One page of a list in order, for lists of up to hundreds of thousands of items (sessions) read anew for every page,
/// without sorting them all. The items are gathered into a pooled array and their keys, each with its item's position,
/// into another; the page is found among the keys by a partial quicksort that recurses only into the parts overlapping
/// the page: about 2 to 3 comparisons per item whatever the page and whatever order the items come in (a bounded heap,
/// tried first, costs one comparison per item on friendly input but up to 2 log2(page end) on items that arrive in
/// order, as sequential client ids do). Keys are small values compared by a struct order, so moving and comparing them
/// stays cheap; only the page's items are read again. Pivots are random, so no order of the input makes it quadratic
/// (the order is total: no two items compare equal).
/// </summary>
internal static class PageSelection
{
    /// <summary>Below this, a part is sorted whole.</summary>
    private const int SmallPart = 24;

    /// <summary>The items at positions [<paramref name="skip"/>, skip + <paramref name="take"/>) of the ordered list, and the list's length.</summary>
    public static (IReadOnlyList<T> Page, int Total) Select<T, TKey, TOrder>(IEnumerable<T> items, Func<T, TKey> key, int skip, int take, TOrder order)
        where TOrder : IComparer<TKey>
    {
        var itemPool = ArrayPool<T>.Shared;
        var keyPool = ArrayPool<Ranked<TKey>>.Shared;
        var length = items.TryGetNonEnumeratedCount(out var known) ? Math.Max(known, 16) : 1024;
        var buffer = itemPool.Rent(length);
        var keys = keyPool.Rent(length);
        var count = 0;
        try
        {
            foreach (var item in items)
            {
                if (count == buffer.Length)
                {
                    buffer = Grow(itemPool, buffer, count);
                }

                if (count == keys.Length)
                {
                    keys = Grow(keyPool, keys, count);
                }

                buffer[count] = item;
                keys[count] = new Ranked<TKey>(key(item), count);
                count++;
            }

            if (skip >= count)
            {
                return ([], count);
            }

            var end = (int)Math.Min(count, (long)skip + take);
            var ranked = keys.AsSpan(0, count);
            Order(ranked, skip, end, new ByKey<TKey, TOrder>(order));
            var page = new T[end - skip];
            for (var i = 0; i < page.Length; i++)
            {
                page[i] = buffer[ranked[skip + i].Position];
            }

            return (page, count);
        }
        finally
        {
            // Only the part used holds references to let go of.
            buffer.AsSpan(0, count).Clear();
            keys.AsSpan(0, count).Clear();
            itemPool.Return(buffer);
            keyPool.Return(keys);
        }
    }

    private static TItem[] Grow<TItem>(ArrayPool<TItem> pool, TItem[] full, int count)
    {
        var larger = pool.Rent(full.Length * 2);
        full.AsSpan(0, count).CopyTo(larger);
        full.AsSpan(0, count).Clear();
        pool.Return(full);
        return larger;
    }

    /// <summary>Puts into positions [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="items"/> what a full sort would put there, in order.</summary>
    private static void Order<T, TOrder>(Span<T> items, int from, int to, TOrder order)
        where TOrder : IComparer<T>
    {
        // [lo, hi) is the part still to look at, as an offset into items.
        int lo = 0, hi = items.Length;
        while (hi - lo > SmallPart)
        {
            var pivot = Partition(items[lo..hi], order) + lo;
            var left = from < pivot;
            var right = to > pivot + 1;
            if (left && right)
            {
                Order(items[lo..pivot], from - lo, Math.Min(to, pivot) - lo, order);
                lo = pivot + 1;
            }
            else if (left)
            {
                hi = pivot;
            }
            else if (right)
            {
                lo = pivot + 1;
            }
            else
            {
                return;
            }
        }

        items[lo..hi].Sort(order);
    }

    /// <summary>Lomuto's partition around a random item: returns where that item ends, smaller items before it, larger after.</summary>
    private static int Partition<T, TOrder>(Span<T> items, TOrder order)
        where TOrder : IComparer<T>
    {
        var last = items.Length - 1;
        var chosen = Random.Shared.Next(items.Length);
        (items[chosen], items[last]) = (items[last], items[chosen]);
        var pivot = items[last];
        var store = 0;
        for (var i = 0; i < last; i++)
        {
            if (order.Compare(items[i], pivot) < 0)
            {
                (items[i], items[store]) = (items[store], items[i]);
                store++;
            }
        }

        (items[store], items[last]) = (items[last], items[store]);
        return store;
    }

    /// <summary>An item's key and where the item is in the gathered items.</summary>
    private readonly record struct Ranked<TKey>(TKey Key, int Position);

    private readonly struct ByKey<TKey, TOrder>(TOrder order) : IComparer<Ranked<TKey>>
        where TOrder : IComparer<TKey>
    {
        public int Compare(Ranked<TKey> x, Ranked<TKey> y) => order.Compare(x.Key, y.Key);
    }
}

/// <summary>One page of a list.</summary>
/// <param name="Items">The items of this page.</param>
/// <param name="Page">This page's number, from 1.</param>
/// <param name="PageSize">The most items a page holds.</param>
/// <param name="TotalCount">Items in the whole list, after filtering.</param>
internal sealed record ResultPage<T>(IReadOnlyList<T> Items, int Page, int PageSize, int TotalCount)
{
    /// <summary>Pages in the whole list.</summary>
    public int TotalPages => (int)((TotalCount + (long)PageSize - 1) / PageSize);

    /// <summary>This page with each item made into what the list answers.</summary>
    public ResultPage<TResult> Map<TResult>(Func<T, TResult> map) => new([.. Items.Select(map)], Page, PageSize, TotalCount);
}
