using System.Diagnostics;
using Switchboard.AspNetCore.Tests.Infrastructure;
using Switchboard.Diagnostics;
using Switchboard.Tests.Rig;

namespace Switchboard.AspNetCore.Tests.PostgreSql;

/// <summary>The "Switchboard" meter and activity source, read with a MeterListener and an ActivityListener.</summary>
[Collection(ServersCollection.Name)]
public sealed class PostgreSqlDiagnosticsTests(DatabaseServers servers)
{
    private const string SecretValue = "param-Secret-42";

    [Fact]
    public async Task Sessions_record_metrics_and_spans_with_database_tags_and_no_secret()
    {
        using var capture = new TelemetryCapture();
        var name = "diag_" + Guid.NewGuid().ToString("N")[..8];
        var database = await servers.CreatePgDatabaseAsync("diag");
        await using var catalog = SwitchboardCatalog.CreateBuilder().AddDatabase(name, servers.PgUrl(database)).Build();
        await using (var session = catalog.OpenSession(name))
        {
            Assert.Equal(SecretValue, await session.QuerySingleAsync<string>("SELECT @v::text", new { v = SecretValue }));
            await session.CommitAsync();
        }

        await using (var session = catalog.OpenSession(name, SessionIntent.ReadOnly))
        {
            await session.ExecuteScalarAsync<int>("SELECT 1");
            await session.RollbackAsync();
        }

        await using (var session = catalog.OpenSession(name))
        {
            await session.ExecuteScalarAsync<int>("SELECT 1"); // disposed without commit
        }

        capture.CollectObservables();

        var opened = capture.For("switchboard.session.opened", name);
        Assert.Equal(3, opened.Sum(m => m.Value));
        Assert.Equal(["read_only", "read_write", "read_write"], opened.Select(m => (string)m.Tags["switchboard.session.intent"]!).Order());
        Assert.All(opened, m => Assert.Equal("postgresql", m.Tags["db.system"]));
        var active = capture.For("switchboard.session.active", name);
        Assert.Equal(3, active.Count(m => m.Value == 1));
        Assert.Equal(0, active.Sum(m => m.Value));
        var waits = capture.For("switchboard.pool.wait_time", name);
        Assert.Equal(3, waits.Count);
        Assert.All(waits, m => Assert.InRange(m.Value, 0, 10));
        Assert.Equal(20, Assert.Single(capture.For("switchboard.pool.connections.max", name)).Value);
        Assert.Equal(0, Assert.Single(capture.For("switchboard.pool.connections.in_use", name)).Value);
        Assert.Equal(0, Assert.Single(capture.For("switchboard.pool.pending_requests", name)).Value);

        var spans = capture.SpansFor(name);
        var sessions = spans.Where(s => s.OperationName == "switchboard.session").OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(3, sessions.Count);
        Assert.All(sessions, s =>
        {
            Assert.Equal($"session {name}", s.DisplayName);
            Assert.Equal("postgresql", s.GetTagItem("db.system"));
            Assert.Equal(database, s.GetTagItem("db.namespace"));
            Assert.Equal("127.0.0.1", s.GetTagItem("server.address"));
            Assert.Equal(servers.PgPort, s.GetTagItem("server.port"));
        });
        Assert.Equal(["committed", "rolled_back", "rolled_back"], sessions.Select(s => (string)s.GetTagItem("switchboard.outcome")!));
        Assert.Equal("read_only", sessions[1].GetTagItem("switchboard.session.intent"));

        // The driver's own statement spans carry the application's name for the database as well.
        var statements = spans.Where(s => s.Source.Name == "Npgsql").ToList();
        Assert.True(statements.Any(s => s.TagObjects.Any(t => t.Value is string v && v.Contains("::text", StringComparison.Ordinal))),
            string.Join(" | ", capture.Spans.Where(s => s.Source.Name == "Npgsql").Select(s => string.Join(", ", s.TagObjects.Select(t => $"{t.Key}={t.Value}")))));

        var commit = Assert.Single(spans, s => s.OperationName == "switchboard.commit");
        Assert.Equal($"COMMIT {name}", commit.DisplayName);
        Assert.Equal(ActivityKind.Client, commit.Kind);
        Assert.Equal("COMMIT", commit.GetTagItem("db.operation.name"));
        Assert.Equal(sessions[0].SpanId, commit.ParentSpanId);
        var rollback = Assert.Single(spans, s => s.OperationName == "switchboard.rollback");
        Assert.Equal(sessions[1].SpanId, rollback.ParentSpanId);

        // No tag of any span or measurement carries the password or a parameter value.
        var values = spans.SelectMany(s => s.TagObjects.Select(t => $"{t.Key}={t.Value}").Append(s.DisplayName))
            .Concat(capture.Measurements.SelectMany(m => m.Tags.Select(t => $"{t.Key}={t.Value}")))
            .ToList();
        Assert.DoesNotContain(values, v => v.Contains(servers.PgPassword) || v.Contains(SecretValue));
    }

    [Fact]
    public async Task Failures_mark_the_span_and_count_connect_failures_and_pool_timeouts()
    {
        using var capture = new TelemetryCapture();
        var down = "down_" + Guid.NewGuid().ToString("N")[..8];
        var busy = "busy_" + Guid.NewGuid().ToString("N")[..8];
        await using var catalog = SwitchboardCatalog.CreateBuilder()
            .AddDatabase(down, $"postgresql://app:{Uri.EscapeDataString(servers.PgPassword)}@127.0.0.1:{DatabaseServers.FreePort()}/nothing")
            .AddDatabase(busy, servers.PgUrl(), o =>
            {
                o.Pool.MaxSize = 1;
                o.Pool.CheckoutTimeout = TimeSpan.FromMilliseconds(200);
            })
            .Build();

        await using (var session = catalog.OpenSession(down))
        {
            await Assert.ThrowsAsync<DatabaseConnectionException>(() => session.ExecuteScalarAsync<int>("SELECT 1"));
        }

        await using (var holder = catalog.OpenSession(busy))
        {
            await holder.ExecuteScalarAsync<int>("SELECT 1");
            await using var waiter = catalog.OpenSession(busy);
            await Assert.ThrowsAsync<PoolTimeoutException>(() => waiter.ExecuteScalarAsync<int>("SELECT 1"));
        }

        Assert.Equal(1, capture.For("switchboard.pool.connect_failures", down).Sum(m => m.Value));
        Assert.Equal(1, capture.For("switchboard.pool.timeouts", busy).Sum(m => m.Value));
        var failed = Assert.Single(capture.SpansFor(down), s => s.OperationName == "switchboard.session");
        Assert.Equal(ActivityStatusCode.Error, failed.Status);
        Assert.Equal(typeof(DatabaseConnectionException).FullName, failed.GetTagItem("error.type"));
        Assert.DoesNotContain(servers.PgPassword, failed.StatusDescription ?? "");
    }

    [Fact]
    public async Task Distributed_transactions_and_recovery_actions_are_counted()
    {
        using var capture = new TelemetryCapture();
        var (first, second) = ("dtx_" + Guid.NewGuid().ToString("N")[..8], "dtx_" + Guid.NewGuid().ToString("N")[..8]);
        var (firstUrl, secondUrl) = (servers.PgUrl(await servers.CreatePgDatabaseAsync("dtx")), servers.PgUrl(await servers.CreatePgDatabaseAsync("dtx")));
        var log = Path.Combine(Path.GetTempPath(), "sb-diag-log-" + Guid.NewGuid().ToString("N")[..8]);
        SwitchboardCatalog Catalog(bool crashAfterDecision) => SwitchboardCatalog.CreateBuilder()
            .AddDatabase(first, firstUrl)
            .AddDatabase(second, secondUrl)
            .ConfigureTransactions(t =>
            {
                t.LogFolder = log;
                t.RecoverOnStart = false;
                if (crashAfterDecision)
                {
                    t.FaultHandler = (point, _) =>
                    {
                        if (point == Switchboard.Transactions.FaultPoint.AfterDecision)
                        {
                            throw new InvalidOperationException("simulated crash after the decision");
                        }
                    };
                }
            })
            .Build();

        await using (var catalog = Catalog(crashAfterDecision: false))
        {
            await using (var tx = await catalog.BeginDistributedAsync(first, second))
            {
                await tx.Session(first).ExecuteScalarAsync<int>("SELECT 1");
                await tx.CommitAsync();
            }

            await using (var tx = await catalog.BeginDistributedAsync(first, second))
            {
                await tx.Session(second).ExecuteScalarAsync<int>("SELECT 1");
            } // disposed without commit: rolled back
        }

        var outcomes = capture.Measurements.Where(m => m.Instrument == "switchboard.distributed_transactions"
            && Equals(m.Tags.GetValueOrDefault(SwitchboardTelemetry.DatabasesTag), first + "," + second)).ToList();
        Assert.Equal(["committed", "rolled_back"], outcomes.Select(m => (string)m.Tags[SwitchboardTelemetry.OutcomeTag]!).Order());

        // One span for the commit, its participants' statements (Npgsql's spans) inside it.
        var commitSpan = Assert.Single(capture.Spans, a => a.OperationName == "switchboard.distributed_commit"
            && Equals(a.GetTagItem(SwitchboardTelemetry.DatabasesTag), first + "," + second));
        Assert.Equal("committed", commitSpan.GetTagItem(SwitchboardTelemetry.OutcomeTag));
        Assert.Equal($"distributed commit {first},{second}", commitSpan.DisplayName);
        Assert.Contains(capture.Spans, a => a.Source.Name == "Npgsql" && a.ParentSpanId == commitSpan.SpanId
            && Equals(a.GetTagItem("switchboard.database"), first));

        // A phase two completed in the background has a span of its own, linked to its commit's span (which ended first),
        // with the COMMIT PREPARED statements inside it.
        string backgroundId;
        await using (var catalog = Catalog(crashAfterDecision: false))
        {
            await using var tx = await catalog.BeginDistributedAsync([first, second], DistributedTransactionOptions.Default with { CompleteInBackground = true });
            backgroundId = tx.Id;
            await tx.Session(first).ExecuteScalarAsync<int>("SELECT 1");
            await tx.CommitAsync();
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!capture.Spans.Any(a => a.OperationName == SwitchboardTelemetry.BackgroundCompletionSpan && Equals(a.GetTagItem(SwitchboardTelemetry.TransactionIdTag), backgroundId))
                && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }

        var foregroundSpan = Assert.Single(capture.Spans, a => a.OperationName == SwitchboardTelemetry.DistributedCommitSpan
            && Equals(a.GetTagItem(SwitchboardTelemetry.TransactionIdTag), backgroundId));
        var backgroundSpan = Assert.Single(capture.Spans, a => a.OperationName == SwitchboardTelemetry.BackgroundCompletionSpan
            && Equals(a.GetTagItem(SwitchboardTelemetry.TransactionIdTag), backgroundId));
        Assert.Equal(default, backgroundSpan.ParentSpanId);
        Assert.Equal(foregroundSpan.SpanId, Assert.Single(backgroundSpan.Links).Context.SpanId);
        Assert.Equal("committed", backgroundSpan.GetTagItem(SwitchboardTelemetry.OutcomeTag));
        Assert.Equal(ActivityStatusCode.Unset, backgroundSpan.Status);
        var phaseTwo = capture.Spans.Where(a => a.Source.Name == "Npgsql" && a.ParentSpanId == backgroundSpan.SpanId).ToList();
        Assert.Equal(new[] { first, second }.Order(StringComparer.Ordinal),
            phaseTwo.Select(a => (string)a.GetTagItem("switchboard.database")!).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(capture.Spans, a => a.ParentSpanId == foregroundSpan.SpanId && a.StartTimeUtc >= foregroundSpan.StartTimeUtc + foregroundSpan.Duration);

        // A crash after the decision leaves both branches prepared; recovery commits each, and counts it per database.
        await using (var crashing = Catalog(crashAfterDecision: true))
        {
            var tx = await crashing.BeginDistributedAsync(first, second);
            await tx.Session(first).ExecuteScalarAsync<int>("SELECT 1");
            await Assert.ThrowsAsync<InvalidOperationException>(() => tx.CommitAsync());
            await tx.DisposeAsync();
        }

        await using (var restarted = Catalog(crashAfterDecision: false))
        {
            var report = await restarted.RecoverTransactionsAsync();
            Assert.Equal(2, report.Actions.Count(a => a.Action == RecoveryActionKind.Committed));
        }

        foreach (var database in new[] { first, second })
        {
            Assert.Equal("commit", (string)Assert.Single(capture.For("switchboard.recovery.actions", database)).Tags["switchboard.recovery.action"]!);
        }

        Directory.Delete(log, recursive: true);
    }

    [Fact]
    public void The_instruments_later_features_feed_are_published_and_record_their_tags()
    {
        using var capture = new TelemetryCapture();
        var name = "reserved_" + Guid.NewGuid().ToString("N")[..8];
        SwitchboardTelemetry.RecordRoutingDecision(name, "replica", SessionIntent.ReadOnly);
        SwitchboardTelemetry.RecordFailover(name, "127.0.0.1:5433");
        SwitchboardTelemetry.RecordRecoveryAction(name, "commit");

        foreach (var instrument in new[]
        {
            "switchboard.session.opened", "switchboard.session.active", "switchboard.pool.wait_time", "switchboard.pool.timeouts",
            "switchboard.pool.connect_failures", "switchboard.pool.connections.in_use", "switchboard.pool.connections.max",
            "switchboard.pool.pending_requests", "switchboard.routing.decisions", "switchboard.failovers",
            "switchboard.distributed_transactions", "switchboard.recovery.actions",
        })
        {
            Assert.True(capture.Instruments.ContainsKey(instrument), instrument);
        }

        var routed = Assert.Single(capture.For("switchboard.routing.decisions", name));
        Assert.Equal("replica", routed.Tags["switchboard.role"]);
        Assert.Equal("read_only", routed.Tags["switchboard.session.intent"]);
        Assert.Equal("127.0.0.1:5433", Assert.Single(capture.For("switchboard.failovers", name)).Tags["server.address"]);
        Assert.Equal("commit", Assert.Single(capture.For("switchboard.recovery.actions", name)).Tags["switchboard.recovery.action"]);
    }
}
