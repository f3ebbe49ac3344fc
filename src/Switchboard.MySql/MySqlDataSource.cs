using System.Data.Common;

namespace Switchboard.MySql;

/// <summary>A data source over the driver's factory; clears the driver's pool when disposed so server connections close.</summary>
internal sealed class MySqlDataSource(MySqlDriver driver, string connectionString) : DbDataSource
{
    public override string ConnectionString => connectionString;

    protected override DbConnection CreateDbConnection()
    {
        var connection = driver.Factory.CreateConnection() ?? throw new InvalidOperationException($"{driver.DriverName} returned no connection");
        connection.ConnectionString = connectionString;
        return connection;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            using var connection = CreateDbConnection();
            driver.ClearPool(connection);
        }

        base.Dispose(disposing);
    }

    protected override ValueTask DisposeAsyncCore()
    {
        Dispose(true);
        return base.DisposeAsyncCore();
    }
}
