using System.Data;
using System.Data.Common;
using System.Globalization;
using IoTHub.Broker.Security;
using IoTHub.Broker.Security.Backends;
using MySqlConnector;
using Npgsql;

namespace IoTHub.Web.Security.Sql;

/// <summary>
/// Looks each CONNECT the cache has not seen up with the operator's query (docs/security.md#sql-query) in PostgreSQL, MySQL or MariaDB: its parameters
/// (<see cref="SqlOptions.Parameters"/>) are bound, never written into the text. No row: not mine (the next authenticator
/// decides); a row: its <c>password_hash</c> (and <c>salt</c>) checked with <see cref="SqlPasswords"/>, allow or deny, and
/// a true <c>is_superuser</c> makes the allowed client a superuser. A
/// database that cannot be reached or fails the query is a failure of the backend, which <see cref="BackendAuthenticator"/>
/// answers per its failure policy. Connections come from the provider's own pool, many questions at once.
/// </summary>
internal sealed class SqlBackend : IAuthenticationBackend, IDisposable
{
    private const string HashColumn = "password_hash";
    private const string SaltColumn = "salt";
    private const string SuperuserColumn = "is_superuser";

    /// <summary>What a row with a true <c>is_superuser</c> grants: everything.</summary>
    private static readonly ClientRights SuperuserRights = new([], Superuser: true);

    private readonly SqlOptions _options;
    private readonly DbDataSource _source;
    private readonly IReadOnlySet<string> _parameters;

    public SqlBackend(SqlOptions options)
    {
        _options = options;
        if (options.Provider == SqlProvider.MySql)
        {
            var builder = new MySqlConnectionStringBuilder(options.ConnectionString);
            Description = $"mysql://{builder.Server}:{builder.Port}/{builder.Database}";
            _source = new MySqlDataSource(builder.ConnectionString);
        }
        else
        {
            var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString);
            Description = $"postgresql://{builder.Host}:{builder.Port}/{builder.Database}";
            _source = NpgsqlDataSource.Create(builder);
        }

        _parameters = SqlOptions.ParametersOf(options.Query);
    }

    public string Method => "sql";

    /// <summary>The server and database, without the user name or password.</summary>
    public string Description { get; }

    public async Task<AuthenticationAnswer> AskAsync(ConnectRequest request, CancellationToken cancellationToken)
    {
        if (request.UserName is not { } userName)
        {
            return AuthenticationResult.NotMine; // the query looks up user names
        }

        var connection = await _source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            var command = connection.CreateCommand();
            await using (command.ConfigureAwait(false))
            {
#pragma warning disable CA2100 // The operator's query from the configuration; what clients send goes in parameters only.
                command.CommandText = _options.Query;
#pragma warning restore CA2100
                foreach (var name in _parameters)
                {
                    var parameter = command.CreateParameter();
                    parameter.ParameterName = name;
                    parameter.DbType = DbType.String;
                    parameter.Value = name switch
                    {
                        SqlOptions.UserNameParameter => userName,
                        "clientid" => request.ClientId,
                        _ => (object?)request.PeerAddress?.ToString() ?? DBNull.Value,
                    };
                    command.Parameters.Add(parameter);
                }

                var reader = await command.ExecuteReaderAsync(CommandBehavior.SingleRow, cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        return AuthenticationResult.NotMine;
                    }

                    var hash = Text(reader, HashColumn, required: true);
                    var salt = Text(reader, SaltColumn, required: false);
                    if (hash is null || request.Password is not { } password
                        || !SqlPasswords.Verify(_options.PasswordHash, password, hash, salt, _options.SaltPosition, _options.Iterations))
                    {
                        return AuthenticationResult.Deny;
                    }

                    return IsSuperuser(reader) ? new AuthenticationAnswer(AuthenticationResult.Allow, SuperuserRights) : AuthenticationResult.Allow;
                }
            }
        }
    }

    public void Dispose() => _source.Dispose();

    /// <summary>
    /// The row's <c>is_superuser</c> column, as EMQX's queries return it: a boolean, a number (MySQL's <c>tinyint</c>: not
    /// 0 is true) or the text <c>true</c>/<c>false</c>/<c>1</c>/<c>0</c>; absent or NULL: false. Another value is a failure of the backend.
    /// </summary>
    private static bool IsSuperuser(DbDataReader reader)
    {
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (string.Equals(reader.GetName(i), SuperuserColumn, StringComparison.OrdinalIgnoreCase))
            {
                var value = reader.IsDBNull(i) ? false : reader.GetValue(i);
                return value switch
                {
                    bool flag => flag,
                    sbyte or byte or short or ushort or int or uint or long or ulong or decimal => Convert.ToDecimal(value, CultureInfo.InvariantCulture) != 0,
                    string text when text.Trim() is "true" or "1" => true,
                    string text when text.Trim() is "false" or "0" => false,
                    _ => throw new AuthenticationBackendException($"the query's column {SuperuserColumn} is not a boolean, a number or true/false"),
                };
            }
        }

        return false;
    }

    /// <summary>The text of the row's column <paramref name="name"/>; null when it is NULL or, unless required, absent.</summary>
    private static string? Text(DbDataReader reader, string name, bool required)
    {
        for (var i = 0; i < reader.FieldCount; i++)
        {
            if (string.Equals(reader.GetName(i), name, StringComparison.OrdinalIgnoreCase))
            {
                return reader.IsDBNull(i) ? null
                    : reader.GetValue(i) as string ?? throw new AuthenticationBackendException($"the query's column {name} is not text");
            }
        }

        return required ? throw new AuthenticationBackendException($"the query's row has no {name} column (name it with AS {name})") : null;
    }
}
