using System.Security.Cryptography;
using IoTHub.Data.Admin;

namespace IoTHub.Web.Auth;

/// <summary>
/// At start, when no account has the admin role, creates <c>admin</c> with the password from
/// IOTHUB_ADMIN_PASSWORD, or a random one written once to the console (directly: never to the log).
/// Runs after storage has opened (and migrated) the database.
/// </summary>
internal sealed partial class FirstAdmin(AdminAccounts accounts, AdminStores stores, ILogger<FirstAdmin> logger) : IHostedService
{
    public const string UserName = "admin";
    public const string PasswordVariable = "IOTHUB_ADMIN_PASSWORD";

    private const string PasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var existing = await accounts.ListAsync(cancellationToken);
        if (existing.Any(static a => a.Role == AdminRoles.Admin))
        {
            return;
        }

        var fromEnvironment = Environment.GetEnvironmentVariable(PasswordVariable);
        var password = string.IsNullOrEmpty(fromEnvironment) ? RandomNumberGenerator.GetString(PasswordAlphabet, 20) : fromEnvironment;
        if (!await accounts.CreateAsync(UserName, password, AdminRoles.Admin, cancellationToken))
        {
            // An account named admin exists without the admin role: it was demoted on purpose; leave it.
            LogAdminNameTaken(logger, UserName);
            return;
        }

        LogAdminCreated(logger, UserName, stores.InDatabase ? "in the database" : "in memory, until the host stops");
        if (string.IsNullOrEmpty(fromEnvironment))
        {
            Console.WriteLine($"Admin account '{UserName}' created with the password: {password}");
            Console.WriteLine($"It is shown this once. Set {PasswordVariable} to choose it instead.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1200, Level = LogLevel.Information, Message = "Admin account '{UserName}' created {Where}")]
    private static partial void LogAdminCreated(ILogger logger, string userName, string where);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "No account has the admin role, and an account named '{UserName}' exists; none was created")]
    private static partial void LogAdminNameTaken(ILogger logger, string userName);
}
