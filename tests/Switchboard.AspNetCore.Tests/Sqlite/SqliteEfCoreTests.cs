using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Switchboard.AspNetCore.Tests.Contracts;

namespace Switchboard.AspNetCore.Tests.Sqlite;

public sealed class SqliteEfCoreTests : EfCoreContractTests
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "switchboard-ef-" + Guid.NewGuid().ToString("N")[..8], "shop.db");

    protected override Task<string> NewDatabaseUrlAsync() => Task.FromResult($"sqlite:///{_path}");

    [Fact]
    public async Task Contexts_use_the_database_s_file_and_the_read_only_one_opens_it_read_only()
    {
        await using var write = Factory.CreateDbContext();
        Assert.Equal(_path, write.Database.GetDbConnection().DataSource);
        await write.Database.ExecuteSqlRawAsync("INSERT INTO items (Id, Name) VALUES (10, 'ok')");

        await using var read = Factory.CreateDbContext(SessionIntent.ReadOnly);
        var error = await Assert.ThrowsAsync<SqliteException>(() => read.Database.ExecuteSqlRawAsync("INSERT INTO items (Id, Name) VALUES (11, 'refused')"));
        Assert.Equal(8, error.SqliteErrorCode); // SQLITE_READONLY
    }
}
