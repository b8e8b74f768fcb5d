using Microsoft.Extensions.Options;

namespace IoTHub.Web.Configuration;

/// <summary>
/// Fills an options class from its own configuration section, and validates the same section at
/// start. Both go through <see cref="SectionReader"/>, so a bad value never throws while binding and
/// validation names every bad key. The startup validator joins the failures of all sections.
/// </summary>
internal sealed class SectionBinding<TOptions>(IConfiguration configuration, string sectionName, Action<SectionReader, TOptions> read)
    : IConfigureOptions<TOptions>, IValidateOptions<TOptions>, ISectionBinding
    where TOptions : class, new()
{
    public string SectionName => sectionName;

    public void Configure(TOptions options) => read(new SectionReader(configuration.GetSection(sectionName)), options);

    /// <summary>
    /// For what is built with the app, before start-up validation runs (the web server): a bad value
    /// reads as its default here and still stops the host at start, together with every other one.
    /// </summary>
    public TOptions ReadUnvalidated()
    {
        var options = new TOptions();
        Configure(options);
        return options;
    }

    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var reader = new SectionReader(configuration.GetSection(sectionName));
        read(reader, new TOptions());
        reader.RejectUnknownKeys();
        return reader.Errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(reader.Errors);
    }
}

/// <summary>A top-level section the host reads (see <see cref="KnownSections"/>).</summary>
internal interface ISectionBinding
{
    string SectionName { get; }
}
