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
}
