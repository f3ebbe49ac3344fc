using Switchboard.AspNetCore.Tests.Contracts;

namespace Switchboard.AspNetCore.Tests.Sqlite;

public sealed class SqliteDapperTests : DapperContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-dapper-" + Guid.NewGuid().ToString("N")[..8]);

    protected override Task<string> NewDatabaseUrlAsync() => Task.FromResult($"sqlite:///{_folder}/{Guid.NewGuid():N}.db");
}
