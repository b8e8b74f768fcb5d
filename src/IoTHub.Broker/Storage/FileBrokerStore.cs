using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace IoTHub.Broker.Storage;

/// <summary>
/// Stores everything in one folder: a snapshot (<c>snapshot.bin</c>) plus an append-only log
/// (<c>log-{generation}.bin</c>) of the batches committed since. Each log record is one batch:
/// <c>[payload length u32][CRC-32 of payload u32][payload]</c>; on open the log is replayed over the
/// snapshot, and a torn or corrupt last record (a crash mid-write) is dropped and cut off; a broken
/// record with good ones after it is damage, and the store refuses to open. A record that a failed write
/// tore is cut off at once; if that fails too, nothing more is appended. Once the
/// log passes a size, the state is written as a new snapshot (temp file, fsync, rename, fsync of the folder) with the next
/// generation and a new, empty log starts; a log whose generation is not the snapshot's is stale.
/// Strict durability fsyncs every batch; relaxed leaves the flush to the operating system.
/// </summary>
public sealed class FileBrokerStore : IBrokerStore
{
    public const long DefaultCompactAfterBytes = 64L << 20;

    private const string SnapshotFile = "snapshot.bin";
    private const string LockFile = "lock";
    private const int RecordHeaderSize = 8;
    private static readonly byte[] SnapshotMagic = "IOTHSNP1"u8.ToArray();

    private readonly string _directory;
    private readonly StorageDurability _durability;
    private readonly long _compactAfterBytes;
    private readonly StorageModel _model;
    private readonly FileStream _lock;
    private readonly MemoryStream _buffer = new();
    private readonly BinaryWriter _writer;
    private FileStream _log;
    private long _generation;
    private bool _broken;

    private FileBrokerStore(string directory, StorageDurability durability, long compactAfterBytes, FileStream lockFile, Image image)
    {
        _directory = directory;
        _durability = durability;
        _compactAfterBytes = compactAfterBytes;
        _lock = lockFile;
        _model = image.Model;
        _generation = image.Generation;
        DroppedLogBytes = image.LogLength - image.ValidLogLength;
        _writer = new BinaryWriter(_buffer, Encoding.UTF8, leaveOpen: true);
        _log = new FileStream(LogPath(directory, _generation), FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read, bufferSize: 0);
        if (_log.Length > image.ValidLogLength)
        {
            // A crash tore the last record: cut it off, so that new records follow the last good one.
            _log.SetLength(image.ValidLogLength);
            _log.Flush(flushToDisk: true);
        }

        _log.Position = image.ValidLogLength;

        // The log may have just been created: its name must be durable before any record in it is.
        DirectorySync.Flush(directory);
        foreach (var stale in Directory.EnumerateFiles(directory, "log-*.bin"))
        {
            if (!string.Equals(Path.GetFullPath(stale), Path.GetFullPath(_log.Name), StringComparison.Ordinal))
            {
                File.Delete(stale);
            }
        }
    }

    /// <summary>Bytes of a torn or corrupt log tail dropped when the store was opened.</summary>
    public long DroppedLogBytes { get; }

    /// <summary>The current log's length in bytes.</summary>
    public long LogLength => _log.Length;

    /// <summary>Why the last snapshot attempt failed (the log is kept and it is tried again); null if none did.</summary>
    public Exception? LastCompactionFailure { get; private set; }

    /// <summary>Opens (creating it when missing) the store in <paramref name="directory"/>; one process at a time.</summary>
    public static FileBrokerStore Open(string directory, StorageDurability durability, long compactAfterBytes = DefaultCompactAfterBytes)
    {
        Directory.CreateDirectory(directory);
        var lockFile = new FileStream(Path.Combine(directory, LockFile), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            File.Delete(Path.Combine(directory, SnapshotFile + ".tmp"));
            return new FileBrokerStore(directory, durability, compactAfterBytes, lockFile, ReadImage(directory));
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Reads the stored state without changing any file (also while a store has the folder open).</summary>
    public static StoredState Read(string directory) => ReadImage(directory).Model.ToState();

    public Task<StoredState> LoadAsync(CancellationToken cancellationToken = default)
    {
        lock (_model)
        {
            return Task.FromResult(_model.ToState());
        }
    }

    public Task CommitAsync(ReadOnlyMemory<StorageOperation> batch, CancellationToken cancellationToken = default)
    {
        if (_broken)
        {
            throw new IOException($"The storage log in '{_directory}' could not be restored after a failed write; reopen the store.");
        }

        _buffer.SetLength(0);
        _writer.Write(0L); // room for the record header
        _writer.Write(0); // room for the count of operations kept
        var kept = 0;
        foreach (ref readonly var operation in batch.Span)
        {
            if (StorageModel.Keeps(operation.Kind))
            {
                StorageOperationCodec.Write(_writer, operation);
                kept++;
            }
        }

        _writer.Flush();
        var record = _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);
        BinaryPrimitives.WriteInt32LittleEndian(record[RecordHeaderSize..], kept);
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(record.Length - RecordHeaderSize));
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32.Compute(record[RecordHeaderSize..]));

        var start = _log.Position;
        try
        {
            _log.Write(record);
            _log.Flush(flushToDisk: _durability == StorageDurability.Strict);
        }
        catch
        {
            // Disk full or I/O error: take the partial record back so that later records stay readable.
            try
            {
                _log.SetLength(start);
                _log.Position = start;
            }
            catch (IOException)
            {
                _broken = true;
            }

            throw;
        }

        lock (_model)
        {
            foreach (ref readonly var operation in batch.Span)
            {
                _model.Apply(operation);
            }
        }

        if (_log.Length > _compactAfterBytes)
        {
            Compact();
        }

        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _log.Dispose();
        _writer.Dispose();
        _buffer.Dispose();
        _lock.Dispose();
        return default;
    }

    private static string LogPath(string directory, long generation) =>
        Path.Combine(directory, string.Create(CultureInfo.InvariantCulture, $"log-{generation:D10}.bin"));

    /// <summary>Writes the state as the next generation's snapshot and starts its empty log.</summary>
    private void Compact()
    {
        var generation = _generation + 1;
        var snapshot = Path.Combine(_directory, SnapshotFile);
        var temporary = snapshot + ".tmp";
        try
        {
            _buffer.SetLength(0);
            _writer.Write(SnapshotMagic);
            _writer.Write(generation);
            _writer.Write(0L); // room for payload length and CRC
            var count = 0;
            _writer.Write(0);
            foreach (var operation in _model.ToOperations())
            {
                StorageOperationCodec.Write(_writer, operation);
                count++;
            }

            _writer.Flush();
            var bytes = _buffer.GetBuffer().AsSpan(0, (int)_buffer.Length);
            var payload = bytes[(SnapshotMagic.Length + 16)..];
            BinaryPrimitives.WriteInt32LittleEndian(payload, count);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[(SnapshotMagic.Length + 8)..], (uint)payload.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[(SnapshotMagic.Length + 12)..], Crc32.Compute(payload));
            using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, snapshot, overwrite: true);
            var log = new FileStream(LogPath(_directory, generation), FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);

            // The new snapshot and log must be durable before the old log goes.
            DirectorySync.Flush(_directory);
            var old = _log;
            _log = log;
            _generation = generation;
            old.Dispose();
            File.Delete(old.Name);
            LastCompactionFailure = null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The batch is already in the log; keep appending there and try again after the next commit.
            LastCompactionFailure = e;
            TryDelete(temporary);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Deleted at the next open.
        }
    }

    private static Image ReadImage(string directory)
    {
        var model = new StorageModel();
        long generation = 0;
        var snapshot = Path.Combine(directory, SnapshotFile);
        if (File.Exists(snapshot))
        {
            generation = ReadSnapshot(File.ReadAllBytes(snapshot), model, snapshot);
        }

        var logPath = LogPath(directory, generation);
        if (!File.Exists(logPath))
        {
            return new Image(model, generation, 0, 0);
        }

        byte[] log;
        using (var stream = new FileStream(logPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            log = new byte[stream.Length];
            stream.ReadExactly(log);
        }

        long valid = 0;
        while (TryReadRecord(log.AsSpan((int)valid), out var payload))
        {
            ApplyAll(log, (int)valid + RecordHeaderSize, payload.Length, model);
            valid += RecordHeaderSize + payload.Length;
        }

        if (FindRecordAfter(log, (int)valid) is { } next)
        {
            // Records are appended whole and a torn one is cut off before the next append (or nothing is
            // appended after it), so a broken record with good ones behind it is damage from outside. Cutting
            // the log there would throw away writes that were acknowledged: leave the choice to the operator.
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"The storage log '{logPath}' is damaged at byte {valid} of {log.Length}: the record there is broken, and a good one follows at byte {next}. " +
                $"The store is not opened, so that nothing stored after the damage is thrown away. To start from the state before the damage " +
                $"and lose what follows it, keep a copy of the folder and cut the log: truncate -s {valid} '{logPath}'"));
        }

        return new Image(model, generation, log.Length, valid);
    }

    /// <summary>Where a good record starts after the broken one at <paramref name="broken"/>; null when none does (a torn tail).</summary>
    private static int? FindRecordAfter(byte[] log, int broken)
    {
        for (var start = broken + 1; start + RecordHeaderSize <= log.Length; start++)
        {
            if (TryReadRecord(log.AsSpan(start), out _))
            {
                return start;
            }
        }

        return null;
    }

    /// <summary>A complete record with a matching CRC; false at the end or at a torn or corrupt record.</summary>
    private static bool TryReadRecord(ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> payload)
    {
        payload = default;
        if (rest.Length < RecordHeaderSize)
        {
            return false;
        }

        // A payload holds at least its operation count: a header of zeros (blocks of a file grown by a crash) is no record.
        var length = BinaryPrimitives.ReadUInt32LittleEndian(rest);
        if (length < sizeof(int) || length > rest.Length - RecordHeaderSize)
        {
            return false;
        }

        payload = rest.Slice(RecordHeaderSize, (int)length);
        return Crc32.Compute(payload) == BinaryPrimitives.ReadUInt32LittleEndian(rest[4..]);
    }

    private static long ReadSnapshot(byte[] bytes, StorageModel model, string path)
    {
        var headerSize = SnapshotMagic.Length + 16;
        if (bytes.Length < headerSize || !bytes.AsSpan(0, SnapshotMagic.Length).SequenceEqual(SnapshotMagic))
        {
            throw new InvalidDataException($"'{path}' is not an IoTHub snapshot.");
        }

        var generation = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(SnapshotMagic.Length));
        var length = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SnapshotMagic.Length + 8));
        var crc = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(SnapshotMagic.Length + 12));
        if (length != bytes.Length - headerSize || Crc32.Compute(bytes.AsSpan(headerSize)) != crc)
        {
            // Snapshots are renamed into place whole, so this is damage outside the broker: refuse to start.
            throw new InvalidDataException($"The snapshot '{path}' is damaged (length or CRC mismatch).");
        }

        ApplyAll(bytes, headerSize, (int)length, model);
        return generation;
    }

    private static void ApplyAll(byte[] bytes, int offset, int length, StorageModel model)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes, offset, length, writable: false), Encoding.UTF8);
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            model.Apply(StorageOperationCodec.Read(reader));
        }
    }

    private sealed record Image(StorageModel Model, long Generation, long LogLength, long ValidLogLength);
}
