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

    /// <summary>The requested page of <paramref name="items"/>, which are already filtered and in order.</summary>
    public ResultPage<T> Apply<T>(IEnumerable<T> items)
    {
        var all = items as IReadOnlyList<T> ?? [.. items];
        var page = Page ?? 1;
        var size = PageSize ?? DefaultPageSize;
        var skip = (long)(page - 1) * size;
        IReadOnlyList<T> slice = skip >= all.Count ? [] : [.. all.Skip((int)skip).Take(size)];
        return new ResultPage<T>(slice, page, size, all.Count);
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
