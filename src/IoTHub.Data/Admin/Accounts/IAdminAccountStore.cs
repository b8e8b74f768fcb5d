namespace IoTHub.Data.Admin.Accounts;

/// <summary>Where the admin accounts are kept (see <see cref="AdminStores"/>).</summary>
public interface IAdminAccountStore
{
    Task<AdminAccount?> FindAsync(string userName, CancellationToken cancellationToken);

    /// <summary>Ordered by user name.</summary>
    Task<IReadOnlyList<AdminAccount>> ListAsync(CancellationToken cancellationToken);

    /// <summary>False when an account of that name exists.</summary>
    Task<bool> AddAsync(AdminAccount account, CancellationToken cancellationToken);

    /// <summary>Replaces the password hash and role of the account of that name (its creation time and sign-outs stay); false when there is none.</summary>
    Task<bool> UpdateAsync(AdminAccount account, CancellationToken cancellationToken);

    /// <summary>Counts a sign-out of the account of that name (<see cref="AdminAccount.SignOuts"/> goes up by one); false when there is none.</summary>
    Task<bool> SignOutAsync(string userName, CancellationToken cancellationToken);

    /// <summary>False when there is no account of that name.</summary>
    Task<bool> DeleteAsync(string userName, CancellationToken cancellationToken);
}
