namespace IoTHub.Web.Auth;

/// <summary>The two roles of admin accounts, and the authorization policy for changes.</summary>
internal static class AdminRoles
{
    /// <summary>May read and change everything.</summary>
    public const string Admin = "admin";

    /// <summary>May read everything and change nothing.</summary>
    public const string Viewer = "viewer";

    /// <summary>The policy of every endpoint that changes something: the admin role.</summary>
    public const string ChangePolicy = "change";

    public static bool IsKnown(string role) => role is Admin or Viewer;
}
