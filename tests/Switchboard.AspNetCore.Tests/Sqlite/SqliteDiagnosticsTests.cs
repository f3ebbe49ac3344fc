using Switchboard.AspNetCore.Tests.Infrastructure;

namespace Switchboard.AspNetCore.Tests.Sqlite;

public sealed class SqliteDiagnosticsTests
{
    [Fact]
    public async Task A_SQLite_session_is_traced_with_its_file_as_namespace_and_no_server()
    {
        using var capture = new TelemetryCapture();
        var name = "diag_" + Guid.NewGuid().ToString("N")[..8];
        var path = Path.Combine(Path.GetTempPath(), "switchboard-diag-" + Guid.NewGuid().ToString("N")[..8], "app.db");
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase(name, $"sqlite:///{path}").Build();
        await using (var session = catalog.OpenSession(name))
        {
            await session.ExecuteAsync("CREATE TABLE t (x INTEGER)");
            await session.CommitAsync();
        }

        var span = Assert.Single(capture.SpansFor(name), s => s.OperationName == "switchboard.session");
        Assert.Equal("sqlite", span.GetTagItem("db.system"));
        Assert.Equal(path, span.GetTagItem("db.namespace"));
        Assert.Null(span.GetTagItem("server.address"));
        Assert.Equal("committed", span.GetTagItem("switchboard.outcome"));
        Assert.Single(capture.SpansFor(name), s => s.OperationName == "switchboard.commit" && s.ParentSpanId == span.SpanId);
        Assert.Equal(1, capture.For("switchboard.session.opened", name).Sum(m => m.Value));
    }
}
