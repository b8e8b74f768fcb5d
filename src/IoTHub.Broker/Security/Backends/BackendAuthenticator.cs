using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace IoTHub.Broker.Security.Backends;

/// <summary>
/// An authenticator that asks an <see cref="IAuthenticationBackend"/> (a web service, a database, a directory), each
/// question within <see cref="Timeout"/>. Questions run side by side: nothing is held while the backend answers, so a
/// slow backend delays only the CONNECTs it is asked about. A backend that throws or does not answer in time has failed:
/// the failure is counted, logged (when failures start, at most once per <see cref="ReportInterval"/> while they go on,
/// and when the backend answers again; the reason, never credentials) and answered per <see cref="FailurePolicy"/> with
/// <see cref="AuthenticationResult.Unavailable"/> or <see cref="AuthenticationResult.UnavailablePassedOn"/>, which the
/// chain does not cache. <see cref="Failing"/> holds from a failure until the backend answers again. Disposing it disposes
/// a backend that holds resources (a database's connection pool).
/// </summary>
public sealed partial class BackendAuthenticator : IAuthenticator, IDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How often failures that go on are reported, with their count.</summary>
    public static readonly TimeSpan ReportInterval = TimeSpan.FromMinutes(1);

    private readonly IAuthenticationBackend _backend;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly AuthenticationResult _onFailure;
    private readonly Lock _lock = new();
    private long _timeouts;
    private long _errors;

    // The failures in progress (guarded by _lock): since when (0: the backend answers), why the last one failed, how
    // many so far, and how many since the last report.
    private long _failingSince;
    private string? _lastFailure;
    private long _failures;
    private long _unreported;
    private long _reportedAt;

    /// <param name="name">Which authenticator of the configuration it is (e.g. <c>Security:Authenticators:0</c>), for logs, health and alarms.</param>
    public BackendAuthenticator(IAuthenticationBackend backend, string name, TimeSpan timeout, BackendFailurePolicy failurePolicy, ILogger? logger = null,
        TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        (_backend, Name, Timeout, FailurePolicy) = (backend, name, timeout, failurePolicy);
        _logger = logger ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _onFailure = failurePolicy == BackendFailurePolicy.Deny ? AuthenticationResult.Unavailable : AuthenticationResult.UnavailablePassedOn;
    }

    public string Method => _backend.Method;

    public string Name { get; }

    /// <inheritdoc cref="IAuthenticationBackend.Description"/>
    public string Description => _backend.Description;

    /// <inheritdoc cref="IAuthenticationBackend.DecisionsCached"/>
    public bool DecisionsCached => _backend.DecisionsCached;

    public TimeSpan Timeout { get; }

    public BackendFailurePolicy FailurePolicy { get; }

    /// <summary>Questions the backend did not answer within <see cref="Timeout"/>.</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <summary>Questions the backend failed otherwise (unreachable, an unexpected answer).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>True from a failure until the backend answers again.</summary>
    public bool Failing => Volatile.Read(ref _failingSince) != 0;

    /// <summary>While <see cref="Failing"/>: what fails, why, and for how long, in a sentence (for health and alarms); else null.</summary>
    public string? Problem
    {
        get
        {
            lock (_lock)
            {
                return _failingSince == 0 ? null : string.Create(CultureInfo.InvariantCulture,
                    $"{Name} ({Method} {Description}) fails: {_lastFailure} ({_failures} failed in a row, for {_time.GetElapsedTime(_failingSince).TotalSeconds:0} s).");
            }
        }
    }

    public async ValueTask<AuthenticationAnswer> AuthenticateAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(Timeout, _time);
        using var question = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var result = await _backend.AskAsync(request, question.Token).ConfigureAwait(false);
            Answered();
            return result;
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            Interlocked.Increment(ref _timeouts);
            Failed(string.Create(CultureInfo.InvariantCulture, $"no answer within {Timeout.TotalSeconds:0.###} s"));
        }
#pragma warning disable CA1031 // Whatever the backend's client throws is a failure of the backend, answered per the policy.
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
#pragma warning restore CA1031
        {
            Interlocked.Increment(ref _errors);
            // The inner exception says what went wrong ("Connection refused", "The response ended prematurely").
            Failed(e is AuthenticationBackendException ? e.Message
                : $"{e.GetType().Name}: {e.Message}{(e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $" ({inner.Message})" : string.Empty)}");
        }

        return _onFailure;
    }

    public void Dispose() => (_backend as IDisposable)?.Dispose();

    private void Answered()
    {
        if (Volatile.Read(ref _failingSince) == 0)
        {
            return;
        }

        lock (_lock)
        {
            if (_failingSince != 0)
            {
                LogAnswersAgain(_logger, Name, _time.GetElapsedTime(_failingSince), _failures);
                Volatile.Write(ref _failingSince, 0);
            }
        }
    }

    private void Failed(string reason)
    {
        var now = _time.GetTimestamp();
        reason = reason.TrimEnd('.');
        lock (_lock)
        {
            _lastFailure = reason;
            if (_failingSince == 0)
            {
                Volatile.Write(ref _failingSince, now);
                (_failures, _unreported, _reportedAt) = (1, 0, now);
                LogFailing(_logger, Name, Method, Description, reason,
                    FailurePolicy == BackendFailurePolicy.Deny ? "refused with 0x88 Server unavailable (FailurePolicy Deny)" : "passed to the next authenticator (FailurePolicy NotMine)");
                return;
            }

            _failures++;
            _unreported++;
            if (_time.GetElapsedTime(_reportedAt, now) >= ReportInterval)
            {
                LogStillFailing(_logger, Name, _unreported, _time.GetElapsedTime(_reportedAt, now), reason);
                (_unreported, _reportedAt) = (0, now);
            }
        }
    }

    [LoggerMessage(1160, LogLevel.Warning,
        "Authentication backend {Name} ({Method} {Backend}) fails: {Reason}. The clients it is asked about are {Outcome} until it answers again")]
    private static partial void LogFailing(ILogger logger, string name, string method, string backend, string reason, string outcome);

    [LoggerMessage(1161, LogLevel.Warning, "Authentication backend {Name} still fails: {Count} more failures in the last {Period} ({Reason})")]
    private static partial void LogStillFailing(ILogger logger, string name, long count, TimeSpan period, string reason);

    [LoggerMessage(1162, LogLevel.Information, "Authentication backend {Name} answers again after {Duration} and {Count} failures")]
    private static partial void LogAnswersAgain(ILogger logger, string name, TimeSpan duration, long count);
}
