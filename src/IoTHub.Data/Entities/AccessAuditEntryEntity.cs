namespace IoTHub.Data.Entities;

/// <summary>
/// One entry of the access audit (table access_audit_log): an access decision of an MQTT client, or (result "dropped") how
/// many decisions were not recorded. The decision's columns are null in such a summary.
/// </summary>
public sealed class AccessAuditEntryEntity
{
    public long Id { get; set; }

    /// <summary>When, in Unix milliseconds.</summary>
    public long At { get; set; }

    /// <summary>allow, deny or dropped.</summary>
    public required string Result { get; set; }

    public string? Broker { get; set; }

    /// <summary>The listener's URL.</summary>
    public string? Listener { get; set; }

    /// <summary>The client's address and port.</summary>
    public string? Address { get; set; }

    public string? UserName { get; set; }

    public string? ClientId { get; set; }

    /// <summary>publish, subscribe or receive.</summary>
    public string? Action { get; set; }

    /// <summary>The topic, or the filter of a subscribe.</summary>
    public string? Topic { get; set; }

    /// <summary>Where the deciding rule comes from (e.g. /etc/iothub/acl:12, role:operators#7), "superuser" or "default".</summary>
    public string? Rule { get; set; }

    /// <summary>Decisions not recorded (result "dropped"); 0 otherwise.</summary>
    public long Dropped { get; set; }
}
