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

    /// <summary>Each failure names its key; one that an imported file set also names the file and line (a bad certfile of a listener line).</summary>
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        var reader = new SectionReader(configuration.GetSection(sectionName));
        read(reader, new TOptions());
        reader.RejectUnknownKeys();
        return reader.Errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(reader.Errors.Select(WithOrigin));
    }

    public void Describe(EffectiveSettings effective) => read(new SectionReader(configuration.GetSection(sectionName), effective: effective), new TOptions());

    private string WithOrigin(string error)
    {
        var key = error.Split(' ', 2)[0];
        return EffectiveSettings.ImportedOrigin(configuration, key) is { } origin ? $"{error} (set by {origin})" : error;
    }
}

/// <summary>A top-level section the host reads (see <see cref="KnownSections"/>).</summary>
internal interface ISectionBinding
{
    string SectionName { get; }

    /// <summary>Reads the section again, recording every key with its value and source.</summary>
    void Describe(EffectiveSettings effective);
}
