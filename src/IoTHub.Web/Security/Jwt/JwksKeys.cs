using IoTHub.Broker.Security.Backends;
using Microsoft.IdentityModel.Tokens;

namespace IoTHub.Web.Security.Jwt;

/// <summary>
/// The signing keys of a JWKS URL: fetched when first needed, refetched in the background once they are older than the
/// refresh period (the keys at hand are used meanwhile), and refetched at once when a token names a key id they lack,
/// at most once per <see cref="UnknownKeyInterval"/>. A fetch that fails, when its keys are needed, throws (a backend
/// failure), and so do tokens with an unknown key id until the next fetch may be tried; one in the background keeps the keys at hand and is tried again at the next question. Each fetch is bounded
/// by the authenticator's Timeout, so a hung one ends.
/// </summary>
internal sealed partial class JwksKeys(IHttpClientFactory clients, Uri url, TimeSpan refresh, TimeSpan timeout, TimeProvider time, ILogger<JwksKeys> logger)
{
    /// <summary>The named HttpClient: no timeout of its own (the authenticator's applies), no request logging.</summary>
    public const string HttpClientName = "IoTHub.AuthenticationJwks";

    /// <summary>At most one fetch per this period for tokens that name an unknown key id (each could be made up).</summary>
    public static readonly TimeSpan UnknownKeyInterval = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private IList<SecurityKey>? _keys;
    private long _fetchedAt;
    private long _triedAt;
    private Task<IList<SecurityKey>>? _fetching;
    private string? _failure;

    /// <summary>The URL without its query, which may hold a token.</summary>
    public string Description { get; } = url.GetLeftPart(UriPartial.Path);

    public async Task<IList<SecurityKey>> KeysAsync(string? keyId, CancellationToken cancellationToken)
    {
        Task<IList<SecurityKey>> fetching;
        lock (_lock)
        {
            if (_keys is { } keys)
            {
                var known = keyId is null || keys.Any(key => key.KeyId == keyId);
                if (!known && _failure is not null && time.GetElapsedTime(_triedAt) < UnknownKeyInterval)
                {
                    // The key may be one the failed fetch would have brought: still a failure, not a bad signature.
                    throw new AuthenticationBackendException(_failure);
                }

                if (known || time.GetElapsedTime(_triedAt) < UnknownKeyInterval)
                {
                    if (time.GetElapsedTime(_fetchedAt) >= refresh && _fetching is null)
                    {
                        _ = Fetch().ContinueWith(t => LogRefreshFailed(logger, Description, t.Exception!.GetBaseException().Message),
                            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
                    }

                    return keys;
                }
            }

            fetching = _fetching ?? Fetch();
        }

        return await fetching.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts a fetch (under <see cref="_lock"/>); it stores the keys it gets.</summary>
    private Task<IList<SecurityKey>> Fetch()
    {
        _triedAt = time.GetTimestamp();
        return _fetching = FetchAsync();
    }

    private async Task<IList<SecurityKey>> FetchAsync()
    {
        try
        {
            await Task.Yield();
            using var cancel = new CancellationTokenSource(timeout, time);
            using var response = await clients.CreateClient(HttpClientName).GetAsync(url, cancel.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new AuthenticationBackendException($"the JWKS answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            IList<SecurityKey> keys;
            try
            {
                keys = new JsonWebKeySet(await response.Content.ReadAsStringAsync(cancel.Token).ConfigureAwait(false)).GetSigningKeys();
            }
            catch (ArgumentException e)
            {
                throw new AuthenticationBackendException("the JWKS answered with a body that is not a JSON Web Key Set: " + e.Message);
            }

            lock (_lock)
            {
                (_keys, _fetchedAt, _failure) = (keys, time.GetTimestamp(), null);
            }

            return keys;
        }
#pragma warning disable CA1031 // Remembered for the questions that come before the next fetch, then thrown on as it is.
        catch (Exception e)
#pragma warning restore CA1031
        {
            lock (_lock)
            {
                _failure = e is AuthenticationBackendException ? e.Message : $"fetching the JWKS failed: {e.GetType().Name}: {e.Message}";
            }

            throw;
        }
        finally
        {
            lock (_lock)
            {
                _fetching = null;
            }
        }
    }

    [LoggerMessage(1165, LogLevel.Warning, "The JWKS {Url} could not be refreshed ({Reason}); the keys fetched before are used until it can")]
    private static partial void LogRefreshFailed(ILogger logger, string url, string reason);
}
