using IoTHub.Broker.Messages;
using IoTHub.Mqtt;

namespace IoTHub.Broker.Storage;

/// <summary>The file store's binary form of operations (little-endian, strings as UTF-8 with a 7-bit length).</summary>
internal static class StorageOperationCodec
{
    // Set in the kind's byte when the operation's message expires: its expiry time (UTC ticks) follows its payload; for a
    // will, its Message Expiry Interval (seconds) does. Logs and snapshots written before messages kept their expiry never
    // set it, and read as before.
    private const byte ExpiryFlag = 0x80;

    // Set in a retained message's kind byte when when it was kept and by whom follow (after its expiry); logs and snapshots
    // written before retained messages kept them never set it, and read as before.
    private const byte KeptFlag = 0x40;

    public static void Write(BinaryWriter writer, in StorageOperation operation)
    {
        var expires = operation.Kind == StorageOperationKind.SetWill ? operation.WillExpiryInterval is not null : operation.Message?.ExpiresAtUtc is not null;
        var kept = operation.Kind == StorageOperationKind.SetRetained && operation.Message!.StoredAt is not null;
        writer.Write((byte)((byte)operation.Kind | (expires ? ExpiryFlag : 0) | (kept ? KeptFlag : 0)));
        writer.Write(operation.ClientId);
        switch (operation.Kind)
        {
            case StorageOperationKind.SetRetained:
                WriteMessage(writer, operation.Message!, operation.Message!.ExpiresAtUtc);
                if (kept)
                {
                    WriteKept(writer, operation.Message);
                }

                break;
            case StorageOperationKind.DeleteRetained:
            case StorageOperationKind.RemoveSubscription:
                writer.Write(operation.Topic!);
                break;
            case StorageOperationKind.UpsertSession:
                writer.Write(operation.Number);
                WriteTime(writer, operation.Time);
                break;
            case StorageOperationKind.AddSubscription:
                writer.Write(operation.Topic!);
                writer.Write((byte)operation.Options.QualityOfService);
                writer.Write(operation.Options.NoLocal);
                writer.Write(operation.Options.RetainAsPublished);
                writer.Write((byte)operation.Options.RetainHandling);
                writer.Write(operation.Number);
                break;
            case StorageOperationKind.EnqueueMessage:
                writer.Write(operation.Sequence);
                writer.Write((byte)operation.QualityOfService);
                writer.Write(operation.Retain);
                WriteMessage(writer, operation.Message!, operation.Message!.ExpiresAtUtc);
                break;
            case StorageOperationKind.RemoveQueuedMessage:
                writer.Write(operation.Sequence);
                break;
            case StorageOperationKind.SetOutgoingInflight:
                writer.Write(operation.PacketId);
                writer.Write(operation.Sequence);
                writer.Write((byte)operation.QualityOfService);
                writer.Write(operation.Retain);
                writer.Write(operation.Released);
                WriteMessage(writer, operation.Message!, operation.Message!.ExpiresAtUtc);
                break;
            case StorageOperationKind.RemoveOutgoingInflight:
            case StorageOperationKind.AddIncomingQos2:
            case StorageOperationKind.RemoveIncomingQos2:
                writer.Write(operation.PacketId);
                break;
            case StorageOperationKind.SetWill:
                writer.Write(operation.Number);
                WriteTime(writer, operation.Time);
                // A will's message gets its expiry when published: its interval is kept instead.
                WriteMessage(writer, operation.Message!, expiresAt: null);
                if (operation.WillExpiryInterval is { } willExpiry)
                {
                    writer.Write(willExpiry);
                }

                break;
            case StorageOperationKind.DeleteSession:
            case StorageOperationKind.DeleteWill:
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(operation), operation.Kind, "Unknown storage operation.");
        }
    }

    /// <summary>Reads one operation; throws <see cref="InvalidDataException"/> or <see cref="EndOfStreamException"/> on bad data.</summary>
    public static StorageOperation Read(BinaryReader reader)
    {
        var first = reader.ReadByte();
        var kind = (StorageOperationKind)(first & ~(ExpiryFlag | KeptFlag));
        var expires = (first & ExpiryFlag) != 0;
        var clientId = reader.ReadString();
        switch (kind)
        {
            case StorageOperationKind.SetRetained:
                var retained = ReadMessage(reader, expires);
                return StorageOperation.SetRetained((first & KeptFlag) != 0 ? ReadKept(reader, retained) : retained);
            case StorageOperationKind.DeleteRetained:
                return StorageOperation.DeleteRetained(reader.ReadString());
            case StorageOperationKind.RemoveSubscription:
                return StorageOperation.RemoveSubscription(clientId, reader.ReadString());
            case StorageOperationKind.UpsertSession:
                return StorageOperation.UpsertSession(clientId, reader.ReadUInt32(), ReadTime(reader));
            case StorageOperationKind.AddSubscription:
                var filter = reader.ReadString();
                var options = new SubscriptionOptions((QualityOfService)reader.ReadByte(), reader.ReadBoolean(), reader.ReadBoolean(), (RetainHandling)reader.ReadByte());
                return StorageOperation.AddSubscription(clientId, filter, options, reader.ReadUInt32());
            case StorageOperationKind.EnqueueMessage:
                var sequence = reader.ReadInt64();
                var qos = (QualityOfService)reader.ReadByte();
                var retain = reader.ReadBoolean();
                return StorageOperation.EnqueueMessage(clientId, sequence, ReadMessage(reader, expires), qos, retain);
            case StorageOperationKind.RemoveQueuedMessage:
                return StorageOperation.RemoveQueuedMessage(clientId, reader.ReadInt64());
            case StorageOperationKind.SetOutgoingInflight:
                var packetId = reader.ReadUInt16();
                var inflightSequence = reader.ReadInt64();
                var inflightQos = (QualityOfService)reader.ReadByte();
                var inflightRetain = reader.ReadBoolean();
                var released = reader.ReadBoolean();
                return StorageOperation.SetOutgoingInflight(clientId, packetId, inflightSequence, ReadMessage(reader, expires), inflightQos, inflightRetain, released);
            case StorageOperationKind.RemoveOutgoingInflight:
                return StorageOperation.RemoveOutgoingInflight(clientId, reader.ReadUInt16());
            case StorageOperationKind.AddIncomingQos2:
                return StorageOperation.AddIncomingQos2(clientId, reader.ReadUInt16());
            case StorageOperationKind.RemoveIncomingQos2:
                return StorageOperation.RemoveIncomingQos2(clientId, reader.ReadUInt16());
            case StorageOperationKind.SetWill:
                var delay = reader.ReadUInt32();
                var dueAt = ReadTime(reader).GetValueOrDefault();
                var will = ReadMessage(reader, expires: false);
                return StorageOperation.SetWill(clientId, will, delay, dueAt, expires ? reader.ReadUInt32() : null);
            case StorageOperationKind.DeleteSession:
                return StorageOperation.DeleteSession(clientId);
            case StorageOperationKind.DeleteWill:
                return StorageOperation.DeleteWill(clientId);
            default:
                throw new InvalidDataException($"Unknown storage operation {(byte)kind}.");
        }
    }

    private static void WriteMessage(BinaryWriter writer, MqttMessage message, DateTimeOffset? expiresAt)
    {
        writer.Write(message.Topic);
        writer.Write((byte)message.QualityOfService);
        writer.Write(message.Retain);
        writer.Write7BitEncodedInt(message.Properties.Length);
        writer.Write(message.Properties.Span);
        writer.Write7BitEncodedInt(message.Payload.Length);
        writer.Write(message.Payload.Span);
        if (expiresAt is { } time)
        {
            writer.Write(time.UtcTicks);
        }
    }

    private static MqttMessage ReadMessage(BinaryReader reader, bool expires)
    {
        var topic = reader.ReadString();
        var qos = (QualityOfService)reader.ReadByte();
        var retain = reader.ReadBoolean();
        var properties = ReadBytes(reader);
        var payload = ReadBytes(reader);
        DateTimeOffset? expiresAt = expires ? new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero) : null;
        return MqttMessage.Restore(topic, payload, qos, retain, properties, expiresAt);
    }

    /// <summary>When a retained message was kept, its publisher's client id and user name.</summary>
    private static void WriteKept(BinaryWriter writer, MqttMessage message)
    {
        writer.Write(message.StoredAt!.Value.UtcTicks);
        WriteOptional(writer, message.PublisherId);
        WriteOptional(writer, message.PublisherUserName);
    }

    private static MqttMessage ReadKept(BinaryReader reader, MqttMessage message)
    {
        var storedAt = new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero);
        var publisherId = ReadOptional(reader);
        return message.KeptAsRetained(storedAt, ReadOptional(reader), publisherId);
    }

    private static void WriteOptional(BinaryWriter writer, string? value)
    {
        writer.Write(value is not null);
        if (value is not null)
        {
            writer.Write(value);
        }
    }

    private static string? ReadOptional(BinaryReader reader) => reader.ReadBoolean() ? reader.ReadString() : null;

    private static byte[] ReadBytes(BinaryReader reader)
    {
        var length = reader.Read7BitEncodedInt();
        var bytes = reader.ReadBytes(length);
        return bytes.Length == length ? bytes : throw new EndOfStreamException();
    }

    private static void WriteTime(BinaryWriter writer, DateTimeOffset? time)
    {
        writer.Write(time.HasValue);
        if (time.HasValue)
        {
            writer.Write(time.Value.UtcTicks);
        }
    }

    private static DateTimeOffset? ReadTime(BinaryReader reader) =>
        reader.ReadBoolean() ? new DateTimeOffset(reader.ReadInt64(), TimeSpan.Zero) : null;
}
