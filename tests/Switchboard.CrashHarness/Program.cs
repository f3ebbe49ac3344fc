using System.Globalization;
using Dapper;
using Switchboard;
using Switchboard.Transactions;

// Crash harness for distributed transactions. Moves money between accounts on PostgreSQL (orders), MariaDB (billing) and a
// SQLite file (audit, the last resource), and dies on purpose: Environment.FailFast at a named fault point, or kill -9 from
// the driver at a random moment. Every trial first recovers what the previous one left and checks the invariants:
//   - all or nothing: each transfer's ledger rows exist in every database it touched, or in none;
//   - the money total is unchanged, and each database's balances agree with its own ledger;
//   - no prepared transaction of this coordinator is left on any server.
//
//   Switchboard.CrashHarness setup --orders URL --billing URL --audit URL --log DIR
//   Switchboard.CrashHarness trial --orders URL --billing URL --audit URL --log DIR --trial N [--fault POINT[:PARTICIPANT][@OCCURRENCE]]
//                                  [--transfers N] [--workers N] [--seed N]
//   Switchboard.CrashHarness check --orders URL --billing URL --audit URL --log DIR
//
// Output lines: RECOVERED ..., CHECK ok ... | CHECK FAILED ..., TRANSFERS started, DONE ...; exit 3 when a check fails.
// tests/Switchboard.Tests/Transactions/CrashHarnessTests.cs drives it (SWITCHBOARD_CRASH_TRIALS trials, 100 by default).

const int AccountsPerWorker = 2;
const int MaxWorkers = 4;
const int InitialBalance = 1000;
string[] databases = ["orders", "billing", "audit"];

var options = ParseOptions(args.Skip(1));
var command = args.FirstOrDefault() ?? "";
try
{
    return command switch
    {
        "setup" => await SetupAsync(),
        "trial" => await TrialAsync(),
        "check" => await RecoverAndCheckAsync(Catalog(null)) ? 0 : 3,
        _ => Usage(),
    };
}
catch (Exception e) when (e is SwitchboardException or InvalidOperationException or ArgumentException)
{
    Console.WriteLine("ERROR " + e.Message.ReplaceLineEndings(" | "));
    return 2;
}

int Usage()
{
    Console.Error.WriteLine("usage: Switchboard.CrashHarness setup|trial|check --orders URL --billing URL --audit URL --log DIR [--trial N] [--fault POINT[:K][@N]]");
    return 2;
}

SwitchboardCatalog Catalog(FaultHandler? faults) => SwitchboardCatalog.CreateBuilder()
    .AddDatabase("orders", Option("orders"))
    .AddDatabase("billing", Option("billing"))
    .AddDatabase("audit", Option("audit"))
    .ConfigureTransactions(o =>
    {
        o.LogFolder = Option("log");
        o.CoordinatorName = "harness";
        o.RecoverOnStart = false;
        o.FaultHandler = faults;
    })
    .Build();

async Task<int> SetupAsync()
{
    await using var catalog = Catalog(null);
    foreach (var database in databases)
    {
        await using var session = catalog.OpenSession(database);
        await session.ExecuteAsync("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
        await session.ExecuteAsync("CREATE TABLE ledger (id VARCHAR(64) PRIMARY KEY, amount INTEGER NOT NULL)");
        await session.ExecuteAsync("INSERT INTO accounts (id, balance) VALUES (@id, @balance)",
            Enumerable.Range(1, MaxWorkers * AccountsPerWorker).Select(id => new { id, balance = InitialBalance }));
        if (database == "orders")
        {
            // A duplicate here fails only at PREPARE TRANSACTION: how the harness makes phase one fail.
            await session.ExecuteAsync("CREATE TABLE doomed (id INTEGER, CONSTRAINT doomed_u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)");
        }

        await session.CommitAsync();
    }

    Console.WriteLine("SETUP ok");
    return 0;
}

async Task<int> TrialAsync()
{
    var trial = int.Parse(Option("trial"), CultureInfo.InvariantCulture);
    var (point, participant, occurrence) = ParseFault(options.GetValueOrDefault("fault"));
    var hits = 0;
    FaultHandler? faults = point is null ? null : (p, k) =>
    {
        if (p == point && (participant < 0 || k == participant) && Interlocked.Increment(ref hits) == occurrence)
        {
            Environment.FailFast($"crash harness: dying at {p} (participant {k}, occurrence {occurrence})");
        }
    };

    await using var catalog = Catalog(faults);
    if (!await RecoverAndCheckAsync(catalog))
    {
        return 3;
    }

    var transfers = int.Parse(options.GetValueOrDefault("transfers", "30"), CultureInfo.InvariantCulture);
    var workers = Math.Min(MaxWorkers, int.Parse(options.GetValueOrDefault("workers", "4"), CultureInfo.InvariantCulture));
    var seed = int.Parse(options.GetValueOrDefault("seed", trial.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
    Console.WriteLine("TRANSFERS started");
    var outcomes = await Task.WhenAll(Enumerable.Range(0, workers).Select(w => WorkerAsync(catalog, trial, w, transfers, new Random(seed * 31 + w))));
    Console.WriteLine($"DONE committed={outcomes.Sum(o => o.Committed)} rolledback={outcomes.Sum(o => o.RolledBack)}");
    return 0;
}

async Task<(int Committed, int RolledBack)> WorkerAsync(SwitchboardCatalog catalog, int trial, int worker, int transfers, Random random)
{
    var (committed, rolledBack) = (0, 0);
    for (var n = 0; n < transfers; n++)
    {
        var withAudit = random.Next(3) == 0;
        string[] participants = withAudit ? ["orders", "billing", "audit"] : ["orders", "billing"];
        var from = participants[random.Next(participants.Length)];
        var to = participants.Where(p => p != from).ElementAt(random.Next(participants.Length - 1));
        var id = $"t{trial}-{worker}-{n}-{(withAudit ? "pms" : "pm")}";
        var amount = random.Next(1, 50);
        var roll = random.Next(100);
        await using var tx = await catalog.BeginDistributedAsync(participants.OrderBy(_ => random.Next()).ToArray());
        foreach (var database in participants)
        {
            var delta = database == from ? -amount : database == to ? amount : 0;
            var account = worker * AccountsPerWorker + 1 + random.Next(AccountsPerWorker);
            var session = tx.Session(database);
            await session.ExecuteAsync("UPDATE accounts SET balance = balance + @delta WHERE id = @account", new { delta, account });
            await session.ExecuteAsync("INSERT INTO ledger (id, amount) VALUES (@id, @delta)", new { id, delta });
        }

        if (roll < 5)
        {
            await tx.RollbackAsync();
            rolledBack++;
            continue;
        }

        if (roll < 12)
        {
            await tx.Session("orders").ExecuteAsync("INSERT INTO doomed VALUES (1), (1)");
        }

        try
        {
            await tx.CommitAsync();
            committed++;
        }
        catch (DistributedTransactionException e) when (e.Outcome == DistributedOutcome.RolledBack)
        {
            rolledBack++;
        }
    }

    return (committed, rolledBack);
}

async Task<bool> RecoverAndCheckAsync(SwitchboardCatalog catalog)
{
    var report = await catalog.RecoverTransactionsAsync();
    Console.WriteLine($"RECOVERED committed={report.Actions.Count(a => a.Action == RecoveryActionKind.Committed)} "
        + $"rolledback={report.Actions.Count(a => a.Action == RecoveryActionKind.RolledBack)} forgotten={report.ForgottenDecisions}");
    var failures = new List<string>();
    if (!report.IsComplete)
    {
        failures.Add("recovery left something: " + string.Join("; ", report.Actions.Where(a => a.Action is not (RecoveryActionKind.Committed
            or RecoveryActionKind.RolledBack or RecoveryActionKind.Foreign)).Select(a => $"{a.TransactionId}@{a.Database}: {a.Action} {a.Detail}")
            .Concat(report.Problems.Select(p => $"{p.Database}: {p.Message}"))));
    }

    long total = 0;
    var ledgers = new Dictionary<string, HashSet<string>>();
    foreach (var database in databases)
    {
        await using var connection = await catalog.GetEngine(database).OpenConnectionAsync();
        var balance = await connection.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(balance), 0) FROM accounts");
        var ledger = (await connection.QueryAsync<(string Id, long Amount)>("SELECT id, amount FROM ledger")).ToList();
        total += balance;
        var start = (long)MaxWorkers * AccountsPerWorker * InitialBalance;
        if (balance - start != ledger.Sum(l => l.Amount))
        {
            failures.Add($"{database}: balances moved by {balance - start} but its ledger says {ledger.Sum(l => l.Amount)}");
        }

        ledgers[database] = ledger.Select(l => l.Id).ToHashSet(StringComparer.Ordinal);
    }

    var expectedTotal = (long)databases.Length * MaxWorkers * AccountsPerWorker * InitialBalance;
    if (total != expectedTotal)
    {
        failures.Add($"money total is {total}, expected {expectedTotal}");
    }

    var transfers = ledgers.Values.SelectMany(ids => ids).ToHashSet(StringComparer.Ordinal);
    foreach (var id in transfers)
    {
        var expected = id.EndsWith("-pms", StringComparison.Ordinal) ? databases : ["orders", "billing"];
        var present = databases.Where(d => ledgers[d].Contains(id)).ToArray();
        if (!present.SequenceEqual(expected))
        {
            failures.Add($"transfer {id} is in {string.Join("+", present)} only (expected {string.Join("+", expected)})");
        }
    }

    if (report.LogId is { } logId)
    {
        foreach (var database in new[] { "orders", "billing" })
        {
            var engine = catalog.GetEngine(database);
            await using var connection = await engine.OpenConnectionAsync();
            var left = (await engine.Dialect.ListPreparedAsync(connection, true, CancellationToken.None))
                .Where(b => b.Branch.GlobalId.Contains("." + logId + ".", StringComparison.Ordinal)).ToList();
            if (left.Count > 0)
            {
                failures.Add($"{database}: prepared transactions left: {string.Join(", ", left.Select(b => b.Branch))}");
            }
        }
    }

    Console.WriteLine(failures.Count == 0
        ? $"CHECK ok transfers={transfers.Count} total={total}"
        : "CHECK FAILED " + string.Join(" | ", failures));
    return failures.Count == 0;
}

string Option(string name) => options.TryGetValue(name, out var value) ? value : throw new ArgumentException($"--{name} is required");

static Dictionary<string, string> ParseOptions(IEnumerable<string> args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    string? key = null;
    foreach (var arg in args)
    {
        if (arg.StartsWith("--", StringComparison.Ordinal))
        {
            key = arg[2..];
            result[key] = "";
        }
        else if (key is not null)
        {
            result[key] = arg;
            key = null;
        }
    }

    return result;
}

// POINT[:PARTICIPANT][@OCCURRENCE], for example AfterPrepare:1@3 (the third time participant 1 has prepared) or AfterDecision@2.
static (FaultPoint? Point, int Participant, int Occurrence) ParseFault(string? text)
{
    if (string.IsNullOrEmpty(text) || text == "none")
    {
        return (null, -1, 0);
    }

    var occurrence = 1;
    var at = text.IndexOf('@', StringComparison.Ordinal);
    if (at >= 0)
    {
        occurrence = int.Parse(text[(at + 1)..], CultureInfo.InvariantCulture);
        text = text[..at];
    }

    var participant = -1;
    var colon = text.IndexOf(':', StringComparison.Ordinal);
    if (colon >= 0)
    {
        participant = int.Parse(text[(colon + 1)..], CultureInfo.InvariantCulture);
        text = text[..colon];
    }

    return (Enum.Parse<FaultPoint>(text, ignoreCase: true), participant, occurrence);
}
