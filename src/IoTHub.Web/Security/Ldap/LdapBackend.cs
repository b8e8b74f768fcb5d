using System.Collections.Concurrent;
using System.DirectoryServices.Protocols;
using System.Net;
using System.Text;
using System.Text.Unicode;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;

namespace IoTHub.Web.Security.Ldap;

/// <summary>
/// Checks each CONNECT the cache has not seen against an LDAP directory (docs/security.md#ldap): a bind as the user, whose
/// DN comes from <see cref="LdapOptions.UserDnTemplate"/> (bind mode) or from a search as the service account (search mode),
/// then, when <see cref="LdapOptions.GroupBaseDn"/> is set, a search of the user's groups, whose names become the client's
/// roles. A user the search does not find is not mine; a bind refused with invalidCredentials (49), or an empty password, is
/// a deny; anything else the server or the connection does is a failure of the backend.
/// <para>
/// The LDAP client of .NET (libldap on Linux) binds synchronously, so the questions are answered by
/// <see cref="LdapOptions.Connections"/> worker threads of their own, never the thread pool's. Each worker keeps two
/// connections open across questions (TCP and TLS are paid once): one bound as the service account for the searches, one
/// for the users' binds, bound again for each user. Requests and binds wait at most the authenticator's timeout
/// (<see cref="LibLdap"/>). A connection that fails is closed, and the question is asked once more on new connections when
/// the failed ones had been open before and the server had closed them (restarted since).
/// </para>
/// </summary>
internal sealed class LdapBackend : IAuthenticationBackend, IDisposable
{
    private const int InvalidCredentials = 49;
    private const int ServerDown = 81;
    private const int StartTlsAttempts = 5;

    private readonly LdapOptions _options;
    private readonly TimeSpan _timeout;
    private readonly string? _trustedFolder;
    private readonly BlockingCollection<Question> _questions = [];
    private readonly CancellationTokenSource _stopping = new();

    /// <param name="options">The server, DNs and filters.</param>
    /// <param name="caFile">The full path of <see cref="LdapOptions.CaFile"/>, when set.</param>
    /// <param name="timeout">The authenticator's: how long one request may wait for the server.</param>
    public LdapBackend(LdapOptions options, string? caFile, TimeSpan timeout)
    {
        (_options, _timeout) = (options, timeout);
        if (caFile is not null)
        {
            // libldap takes trusted authorities from a folder: one of the backend's own, holding a copy of the file.
            _trustedFolder = Directory.CreateTempSubdirectory("iothub-ldap-ca-").FullName;
            File.Copy(caFile, Path.Combine(_trustedFolder, "ca.pem"));
        }

        for (var i = 0; i < options.Connections; i++)
        {
            new Thread(Work) { IsBackground = true, Name = $"LDAP {options.Description} #{i}" }.Start();
        }
    }

    public string Method => "ldap";

    /// <summary>The server's URL (it holds no credentials).</summary>
    public string Description => _options.Description;

    public Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.UserName is not { } userName)
        {
            return Task.FromResult<AuthenticationAnswer>(AuthenticationResult.NotMine); // the directory knows user names
        }

        // A password that is not UTF-8 cannot be the directory's (a bind sends text): as wrong as an empty one.
        var password = request.Password is { } bytes && Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : string.Empty;
        var question = new Question(userName, password, cancellationToken);
        _questions.Add(question, cancellationToken);
        return question.Answer.Task.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        // Workers end when they next look for a question; one held up by the server is a background thread.
        _stopping.Cancel();
        _questions.CompleteAdding();
        if (_trustedFolder is not null)
        {
            Directory.Delete(_trustedFolder, recursive: true);
        }
    }

    private void Work()
    {
        using var connections = new WorkerConnections(this);
        try
        {
            foreach (var question in _questions.GetConsumingEnumerable(_stopping.Token))
            {
                if (question.Cancellation.IsCancellationRequested)
                {
                    question.Answer.TrySetCanceled(question.Cancellation); // timed out while waiting for a worker
                    continue;
                }

                try
                {
                    question.Answer.TrySetResult(AnswerOnce(connections, question));
                }
#pragma warning disable CA1031 // Whatever the LDAP client throws is the question's failure; the worker goes on, on new connections.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    connections.Close();
                    question.Answer.TrySetException(e);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <summary>
    /// Answers on the worker's connections; when one of them, open before, was closed by the server (a restart), once more
    /// on new ones.
    /// </summary>
    private AuthenticationAnswer AnswerOnce(WorkerConnections connections, Question question)
    {
        var reused = connections.Open;
        try
        {
            return Answer(connections, question);
        }
        catch (LdapException e) when (reused && e.ErrorCode == ServerDown)
        {
            connections.Close();
        }

        return Answer(connections, question);
    }

    private AuthenticationAnswer Answer(WorkerConnections connections, Question question)
    {
        string userDn;
        if (_options.UserDnTemplate is { } template)
        {
            if (question.Password.Length == 0)
            {
                return AuthenticationResult.Deny; // an empty password would be an unauthenticated bind, which many servers accept
            }

            userDn = template.Replace(LdapOptions.UserNamePlaceholder, LdapOptions.EscapeDnValue(question.UserName), StringComparison.Ordinal);
        }
        else
        {
            var filter = _options.UserFilter.Replace(LdapOptions.UserNamePlaceholder, LdapOptions.EscapeFilterValue(question.UserName), StringComparison.Ordinal);
            var found = Search(connections.Service, _options.BaseDn!, filter, "1.1");
            if (found.Entries.Count == 0)
            {
                return AuthenticationResult.NotMine;
            }

            if (found.Entries.Count > 1)
            {
                throw new AuthenticationBackendException($"the user filter finds {found.Entries.Count} entries for one user name under {_options.BaseDn}");
            }

            if (question.Password.Length == 0)
            {
                return AuthenticationResult.Deny;
            }

            userDn = found.Entries[0].DistinguishedName;
        }

        var user = connections.User;
        try
        {
            user.Bind(new NetworkCredential(userDn, question.Password));
        }
        catch (LdapException e) when (e.ErrorCode == InvalidCredentials)
        {
            return AuthenticationResult.Deny;
        }

        if (_options.GroupBaseDn is not { } groupBase)
        {
            return AuthenticationResult.Allow;
        }

        // As the service account when there is one, else as the user just bound.
        var groupFilter = _options.GroupFilter.Replace(LdapOptions.DnPlaceholder, LdapOptions.EscapeFilterValue(userDn), StringComparison.Ordinal);
        var groups = Search(_options.BindDn is null ? user : connections.Service, groupBase, groupFilter, _options.GroupNameAttribute);
        List<string> roles = [];
        foreach (SearchResultEntry group in groups.Entries)
        {
            if (group.Attributes[_options.GroupNameAttribute] is { } names)
            {
                foreach (var name in names.GetValues(typeof(string)))
                {
                    if (name is string role && !roles.Contains(role))
                    {
                        roles.Add(role);
                    }
                }
            }
        }

        return new AuthenticationAnswer(AuthenticationResult.Allow, new ClientRights(roles, _options.SuperuserGroup is { } superusers && roles.Contains(superusers)));
    }

    private SearchResponse Search(LdapConnection connection, string baseDn, string filter, string attribute) =>
        (SearchResponse)connection.SendRequest(new SearchRequest(baseDn, filter, SearchScope.Subtree, attribute), _timeout);

    /// <summary>A new connection to the server, TLS set up as configured, bound when <paramref name="credential"/> is given.</summary>
    private LdapConnection Connect(NetworkCredential? credential)
    {
        var url = _options.Url;
        var secure = url.Scheme == "ldaps";
        var port = url.IsDefaultPort || url.Port < 0 ? (secure ? 636 : 389) : url.Port;
        var connection = LibLdap.Connect(new LdapDirectoryIdentifier(url.Host, port), _timeout);
        connection.AutoBind = false;
        try
        {
            var session = connection.SessionOptions;
            session.ProtocolVersion = 3;
            session.ReferralChasing = ReferralChasingOptions.None;
            session.SecureSocketLayer = secure;
            if (_trustedFolder is not null && !OperatingSystem.IsWindows()) // refused at start on Windows
            {
                session.TrustedCertificatesDirectory = _trustedFolder;
                session.StartNewTlsSessionContext();
            }

            if (_options.StartTls)
            {
                // The connection opens with its first request (on Linux, StartTLS alone finds none): a read of the root
                // entry, anonymous and holding nothing secret; whatever the server answers, it is connected.
                try
                {
                    connection.SendRequest(new SearchRequest(string.Empty, "(objectClass=*)", SearchScope.Base, "1.1"), _timeout);
                }
                catch (DirectoryOperationException)
                {
                    // Refused, but answered.
                }

                StartTls(session);
            }

            if (credential is not null)
            {
                connection.Bind(credential);
            }

            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// StartTLS, again while the server answers operationsError: slapd refuses StartTLS while an operation is outstanding, and
    /// it may still count the search that opened the connection for a moment after its answer was sent.
    /// </summary>
    private static void StartTls(LdapSessionOptions session)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                session.StartTransportLayerSecurity(null);
                return;
            }
            catch (TlsOperationException e) when (e.Response?.ResultCode == ResultCode.OperationsError && attempt < StartTlsAttempts)
            {
                // Asked again: the outstanding operation has ended by the time the next request arrives.
            }
        }
    }

    private sealed record Question(string UserName, string Password, CancellationToken Cancellation)
    {
        public TaskCompletionSource<AuthenticationAnswer> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>A worker's connections, opened when first needed and kept until one fails.</summary>
    private sealed class WorkerConnections(LdapBackend backend) : IDisposable
    {
        private LdapConnection? _service;
        private LdapConnection? _user;

        public bool Open => _service is not null || _user is not null;

        /// <summary>Bound as the service account (anonymous without <see cref="LdapOptions.BindDn"/>).</summary>
        public LdapConnection Service => _service ??= backend.Connect(backend._options.BindDn is { } dn ? new NetworkCredential(dn, backend._options.BindPassword) : null);

        /// <summary>Bound as the last user asked about, if any: each question binds it again.</summary>
        public LdapConnection User => _user ??= backend.Connect(null);

        public void Close()
        {
            _service?.Dispose();
            _user?.Dispose();
            (_service, _user) = (null, null);
        }

        public void Dispose() => Close();
    }
}
