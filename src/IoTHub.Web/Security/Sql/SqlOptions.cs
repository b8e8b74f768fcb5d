using System.Text.RegularExpressions;

namespace IoTHub.Web.Security.Sql;

/// <summary>The database a <c>Type=Sql</c> authenticator asks (docs/security.md#sql-query).</summary>
internal enum SqlProvider
{
    /// <summary>PostgreSQL through Npgsql.</summary>
    PostgreSql,

    /// <summary>MySQL or MariaDB through MySqlConnector.</summary>
    MySql,
}

/// <summary>How the stored <c>password_hash</c> is made from the password (docs/security.md#sql-query).</summary>
internal enum SqlPasswordHash
{
    /// <summary>bcrypt, as <c>$2a$</c>, <c>$2b$</c> or <c>$2y$</c> strings.</summary>
    Bcrypt,

    /// <summary>PBKDF2 with HMAC-SHA256: <c>$pbkdf2-sha256$iterations$salt$hash</c>, or a hex hash with the salt column and <c>Iterations</c>.</summary>
    Pbkdf2Sha256,

    /// <summary>PBKDF2 with HMAC-SHA512, written as <see cref="Pbkdf2Sha256"/> is.</summary>
    Pbkdf2Sha512,

    /// <summary>The hex SHA-256 of the salt and the password, in the order of <see cref="SaltPosition"/>.</summary>
    Sha256,

    /// <summary>The password itself: for tests only.</summary>
    Plain,
}

/// <summary>Where the salt goes for <see cref="SqlPasswordHash.Sha256"/>.</summary>
internal enum SaltPosition
{
    /// <summary>SHA-256(salt + password).</summary>
    Prefix,

    /// <summary>SHA-256(password + salt).</summary>
    Suffix,
}

/// <summary>The keys of a <c>Type=Sql</c> authenticator.</summary>
/// <param name="Provider">The kind of database.</param>
/// <param name="ConnectionString">Holds a password: never logged, and left out of <see cref="ToString"/>.</param>
/// <param name="Query">Parameterised with <see cref="Parameters"/>; its first row has <c>password_hash</c> and may have <c>salt</c>.</param>
/// <param name="PasswordHash">How password_hash was made.</param>
/// <param name="SaltPosition">Of <see cref="SqlPasswordHash.Sha256"/>: where the salt goes.</param>
/// <param name="Iterations">PBKDF2 rounds of hashes that do not carry their own count; null: none given.</param>
internal sealed partial record SqlOptions(SqlProvider Provider, string ConnectionString, string Query, SqlPasswordHash PasswordHash, SaltPosition SaltPosition,
    int? Iterations)
{
    public const string UserNameParameter = "username";

    /// <summary>The parameters a query may use, each written with an <c>@</c>: the user name, the client id, the client's IP address.</summary>
    public static readonly IReadOnlyList<string> Parameters = [UserNameParameter, "clientid", "peeraddress"];

    /// <summary>The <c>@name</c>s a query uses (not those inside a word, as in an e-mail address), lower case, once each.</summary>
    public static IReadOnlySet<string> ParametersOf(string query) =>
        ParameterPattern().Matches(query).Select(static m => m.Groups[1].Value.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);

    public override string ToString() =>
        $"{nameof(SqlOptions)} {{ {nameof(Provider)} = {Provider}, {nameof(Query)} = {Query}, {nameof(PasswordHash)} = {PasswordHash}, " +
        $"{nameof(SaltPosition)} = {SaltPosition}, {nameof(Iterations)} = {Iterations} }}";

    [GeneratedRegex(@"(?<![\w@])@([A-Za-z_][A-Za-z0-9_]*)", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterPattern();
}
