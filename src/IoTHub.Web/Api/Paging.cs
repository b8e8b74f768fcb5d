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
    /// The requested page of <paramref name="items"/> (filtered, in no order) in the order of <paramref name="order"/>,
    /// without sorting them all: see <see cref="PageSelection"/>.
    /// </summary>
    /// <param name="items">The items of the whole list, filtered.</param>
    /// <param name="order">A total order: no two items of the list compare equal (end it with a unique key such as the client id).</param>
    public ResultPage<T> Select<T>(IEnumerable<T> items, IComparer<T> order)
    {
        var (slice, total) = PageSelection.Select(items, Skip, Size, order);
        return new ResultPage<T>(slice, Page ?? 1, Size, total);
    }
}

/// <summary>
/// One page of a list in order, for lists of up to hundreds of thousands of items (sessions) read anew for every page,
/// without sorting them all. The items are gathered into a pooled array; a page near either end (the first or last
/// <see cref="HeapLimit"/> items, where nearly every request goes) is selected with a bounded heap in one pass,
/// O(n log k) comparisons that mostly only compare an item with the heap's top; a page in the middle by a partial
/// quicksort that recurses only into the parts overlapping the page, O(n) on average. Quicksort's pivots are random,
/// so no order of the input makes it quadratic (the order is total: no two items compare equal).
/// </summary>
internal static class PageSelection
{
    /// <summary>Below this, a part is sorted whole.</summary>
    private const int SmallPart = 24;

    /// <summary>Pages within this many items of either end of the list are selected with a heap.</summary>
    public const int HeapLimit = 4096;

    /// <summary>The items at positions [<paramref name="skip"/>, skip + <paramref name="take"/>) of the ordered list, and the list's length.</summary>
    public static (IReadOnlyList<T> Page, int Total) Select<T>(IEnumerable<T> items, int skip, int take, IComparer<T> order)
    {
        var pool = ArrayPool<T>.Shared;
        var buffer = pool.Rent(items.TryGetNonEnumeratedCount(out var known) ? Math.Max(known, 16) : 1024);
        var count = 0;
        try
        {
            foreach (var item in items)
            {
                if (count == buffer.Length)
                {
                    var larger = pool.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, count).CopyTo(larger);
                    pool.Return(buffer, clearArray: true);
                    buffer = larger;
                }

                buffer[count++] = item;
            }

            if (skip >= count)
            {
                return ([], count);
            }

            var end = (int)Math.Min(count, (long)skip + take);
            var all = buffer.AsSpan(0, count);
            if (end <= HeapLimit)
            {
                // The first `end` items, then the page at their end.
                Smallest(all, end, order);
                return (all[skip..end].ToArray(), count);
            }

            if (count - skip <= HeapLimit)
            {
                // The last `count - skip` items, largest first at the start, then the page at their start in ascending order.
                var last = count - skip;
                var reversed = Comparer<T>.Create((x, y) => order.Compare(y, x));
                Smallest(all, last, reversed);
                var page = all[..last].ToArray();
                Array.Reverse(page);
                return (page[..(end - skip)], count);
            }

            Order(all, skip, end, order);
            return (all[skip..end].ToArray(), count);
        }
        finally
        {
            pool.Return(buffer, clearArray: true);
        }
    }

    /// <summary>Puts into positions [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="items"/> what a full sort would put there, in order.</summary>
    private static void Order<T>(Span<T> items, int from, int to, IComparer<T> order)
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

    /// <summary>Puts the <paramref name="k"/> smallest of <paramref name="items"/> at its start, in order: a max-heap of the smallest seen so far.</summary>
    private static void Smallest<T>(Span<T> items, int k, IComparer<T> order)
    {
        var heap = items[..k];
        for (var i = k / 2 - 1; i >= 0; i--)
        {
            SiftDown(heap, i, order);
        }

        for (var i = k; i < items.Length; i++)
        {
            if (order.Compare(items[i], heap[0]) < 0)
            {
                (heap[0], items[i]) = (items[i], heap[0]);
                SiftDown(heap, 0, order);
            }
        }

        heap.Sort(order);
    }

    /// <summary>Moves the item at <paramref name="at"/> down a max-heap until neither child is larger.</summary>
    private static void SiftDown<T>(Span<T> heap, int at, IComparer<T> order)
    {
        while (true)
        {
            var largest = at;
            var (left, right) = (2 * at + 1, 2 * at + 2);
            if (left < heap.Length && order.Compare(heap[left], heap[largest]) > 0)
            {
                largest = left;
            }

            if (right < heap.Length && order.Compare(heap[right], heap[largest]) > 0)
            {
                largest = right;
            }

            if (largest == at)
            {
                return;
            }

            (heap[at], heap[largest]) = (heap[largest], heap[at]);
            at = largest;
        }
    }

    /// <summary>Lomuto's partition around a random item: returns where that item ends, smaller items before it, larger after.</summary>
    private static int Partition<T>(Span<T> items, IComparer<T> order)
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
