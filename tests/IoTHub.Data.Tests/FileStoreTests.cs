using IoTHub.Broker.Storage;

namespace IoTHub.Data.Tests;

public sealed class FileStoreTests : StoreContract
{
    private readonly TempDirectory _folder = new();

    private long _compactAfterBytes = FileBrokerStore.DefaultCompactAfterBytes;

    private FileBrokerStore FileStore => (FileBrokerStore)Store;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_torn_last_record_is_dropped_and_the_log_goes_on_after_it()
    {
        await CommitAsync(StorageOperation.SetRetained(Message("a", "first")));
        await CommitAsync(StorageOperation.SetRetained(Message("b", "second")), StorageOperation.SetRetained(Message("c", "second too")));
        await Store.DisposeAsync();

        // A crash in the middle of writing the last record.
        var log = SingleLog();
        var length = new FileInfo(log).Length;
        using (var file = new FileStream(log, FileMode.Open))
        {
            file.SetLength(length - 5);
        }

        var state = await OpenAndLoadAsync();
        Assert.Equal(["a"], state.Retained.Select(m => m.Topic));
        Assert.True(FileStore.DroppedLogBytes > 0);

        await CommitAsync(StorageOperation.SetRetained(Message("d", "after recovery")));
        state = await ReopenAsync();
        Assert.Equal(["a", "d"], state.Retained.Select(m => m.Topic).Order(StringComparer.Ordinal));
        Assert.Equal(0, FileStore.DroppedLogBytes);
    }

    [Fact]
    public async Task A_last_record_cut_inside_its_header_or_with_a_bad_checksum_is_dropped()
    {
        await CommitAsync(StorageOperation.SetRetained(Message("a", "first")));
        var afterFirst = FileStore.LogLength;
        await CommitAsync(StorageOperation.SetRetained(Message("b", "second")));
        await Store.DisposeAsync();

        var log = SingleLog();
        var bytes = await File.ReadAllBytesAsync(log);
        bytes[^1] ^= 0xFF; // a flipped bit in the last record's payload
        await File.WriteAllBytesAsync(log, bytes);
        Assert.Equal(["a"], (await OpenAndLoadAsync()).Retained.Select(m => m.Topic));
        await Store.DisposeAsync();

        await File.WriteAllBytesAsync(log, bytes.AsSpan(0, (int)afterFirst + 3).ToArray());
        Assert.Equal(["a"], (await OpenAndLoadAsync()).Retained.Select(m => m.Topic));
    }

    [Fact]
    public async Task A_tail_of_zeros_left_by_a_crash_is_dropped()
    {
        await CommitAsync(StorageOperation.SetRetained(Message("a", "first")));
        await Store.DisposeAsync();

        // A crash after the file grew and before its new blocks were written: they read as zeros.
        await using (var file = new FileStream(SingleLog(), FileMode.Append))
        {
            await file.WriteAsync(new byte[4096]);
        }

        Assert.Equal(["a"], (await OpenAndLoadAsync()).Retained.Select(m => m.Topic));
        Assert.Equal(4096, FileStore.DroppedLogBytes);
    }

    [Fact]
    public async Task A_broken_record_with_good_ones_after_it_is_reported_and_the_log_is_left_as_it_is()
    {
        await CommitAsync(StorageOperation.SetRetained(Message("a", "first")));
        var afterFirst = FileStore.LogLength;
        await CommitAsync(StorageOperation.SetRetained(Message("b", "second")));
        await CommitAsync(StorageOperation.SetRetained(Message("c", "third")));
        await Store.DisposeAsync();

        var log = SingleLog();
        var bytes = await File.ReadAllBytesAsync(log);
        bytes[afterFirst + 10] ^= 0xFF; // damage in the middle record's payload
        await File.WriteAllBytesAsync(log, bytes);

        var error = Assert.Throws<InvalidDataException>(() => FileBrokerStore.Open(_folder.Path, StorageDurability.Strict));
        Assert.Contains($"damaged at byte {afterFirst} of {bytes.Length}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"truncate -s {afterFirst} '{log}'", error.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidDataException>(() => FileBrokerStore.Read(_folder.Path));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(log));

        // The operator's choice, as the message says: cut the log at the damage; the state before it opens.
        await using (var file = new FileStream(log, FileMode.Open))
        {
            file.SetLength(afterFirst);
        }

        Assert.Equal(["a"], (await OpenAndLoadAsync()).Retained.Select(m => m.Topic));
    }

    [Fact]
    public async Task A_long_log_becomes_a_snapshot_and_a_new_log()
    {
        await Store.DisposeAsync();
        _compactAfterBytes = 4096;
        Store = await OpenAsync();
        await CommitAsync(StorageOperation.UpsertSession("c", 10, null));
        for (var i = 0; i < 100; i++)
        {
            await CommitAsync(
                StorageOperation.EnqueueMessage("c", i, Message("t/" + i, new string('x', 100)), Mqtt.QualityOfService.AtLeastOnce, false),
                StorageOperation.SetRetained(Message("r/" + (i % 10), "v" + i)));
        }

        Assert.True(File.Exists(Path.Combine(_folder.Path, "snapshot.bin")));
        Assert.True(FileStore.LogLength <= 4096 + 512);
        SingleLog();

        var state = await ReopenAsync();
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), Assert.Single(state.Sessions).Queued.Select(q => q.Sequence));
        Assert.Equal(10, state.Retained.Count);
        Assert.Contains(state.Retained, m => m.Topic == "r/9" && m.Payload.Span.SequenceEqual("v99"u8));
    }

    [Fact]
    public async Task A_second_store_cannot_open_a_folder_in_use()
    {
        await Assert.ThrowsAnyAsync<IOException>(() => Task.Run(() => FileBrokerStore.Open(_folder.Path, StorageDurability.Strict)));
    }

    protected override Task<IBrokerStore> OpenAsync() =>
        Task.FromResult<IBrokerStore>(FileBrokerStore.Open(_folder.Path, StorageDurability.Strict, _compactAfterBytes));

    // The folder is locked by the open store; a reader reads the files without the lock.
    protected override Task<StoredState> LoadIndependentlyAsync() => Task.FromResult(FileBrokerStore.Read(_folder.Path));

    private async Task<StoredState> OpenAndLoadAsync()
    {
        Store = await OpenAsync();
        return await Store.LoadAsync();
    }

    private string SingleLog() => Assert.Single(Directory.GetFiles(_folder.Path, "log-*.bin"));
}
