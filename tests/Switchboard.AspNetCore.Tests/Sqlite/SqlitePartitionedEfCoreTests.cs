using Switchboard.AspNetCore.Tests.Contracts;

namespace Switchboard.AspNetCore.Tests.Sqlite;

public sealed class SqlitePartitionedEfCoreTests : PartitionedEfCoreContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-ef-parts-" + Guid.NewGuid().ToString("N")[..8]);

    protected override string TenantTemplate() => $"sqlite:///{_folder}/tenants/{{tenant}}.db";

    protected override Task<(string First, string Second)> ShardUrlsAsync() =>
        Task.FromResult(($"sqlite:///{_folder}/shard_0.db", $"sqlite:///{_folder}/shard_1.db"));
}
