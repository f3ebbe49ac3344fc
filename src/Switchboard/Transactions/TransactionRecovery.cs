using System.Data.Common;
using Switchboard.Dialects;
using Switchboard.Diagnostics;
using Switchboard.Internal;

namespace Switchboard.Transactions;

/// <summary>
/// One recovery pass: finds every prepared branch on every database that can prepare, commits those whose transaction has a
/// recorded commit decision, rolls back those without one (presumed abort, after recording the abort so that a coordinator
/// still running cannot commit it afterwards), and leaves alone what is not this coordinator's or is still being decided.
/// Then it forgets decisions whose transactions are complete everywhere. Idempotent, and safe while the application runs.
/// </summary>
internal static class TransactionRecovery
{
    /// <summary>A recorded abort is kept this long, so a coordinator that stalled before its decision finds it when it resumes.</summary>
    internal static readonly TimeSpan AbortRetention = TimeSpan.FromHours(1);

    public static async ValueTask<RecoveryReport> RunAsync(TransactionCoordinator coordinator, CoordinatorLog? log, RecoveryOptions options, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var catalog = coordinator.Catalog;
        var actions = new List<RecoveryAction>();
        var problems = new List<RecoveryProblem>();

        // 1. Decisions first. A decision read now was written before the scan below, and a transaction's branches are all
        //    prepared before its decision is written, so a decided transaction the scan does not find is complete.
        var logDecisions = log is null ? [] : await log.ReadDecisionsAsync(io, cancellationToken).ConfigureAwait(false);
        var decisions = logDecisions.ToDictionary(d => d.GlobalId, StringComparer.Ordinal);
        var lastResources = catalog.Databases.Where(d => !d.CanPrepare).ToList();
        var lastResourceDecisions = new Dictionary<string, IReadOnlyList<DecisionRecord>?>(StringComparer.OrdinalIgnoreCase);
        foreach (var definition in lastResources)
        {
            // An embedded database whose file does not exist holds no decision: do not create it by looking.
            lastResourceDecisions[definition.Name] = !definition.Dialect.HasServer && !File.Exists(definition.Target)
                ? []
                : await ReadDecisionTableAsync(catalog.GetEngine(definition.Name), "its decisions as a last resource", problems, io, cancellationToken)
                    .ConfigureAwait(false);
        }

        // Before looking at the databases: which transactions this process had handed over, which processes were running.
        var pass = await coordinator.BeginRecoveryPassAsync(log, io, cancellationToken).ConfigureAwait(false);

        // 2. Every prepared branch, on every database that can prepare (in parallel). On MySQL one server lists the branches
        //    of all its databases, so the same branch seen from two configured databases counts once.
        var preparing = catalog.Databases.Where(d => d.CanPrepare).ToList();
        var scans = new (IReadOnlyList<PreparedBranch>? Branches, string? Error)[preparing.Count];
        await Fanout.RunAsync(preparing.Count, async (i, branchIo) =>
        {
            scans[i] = await ScanAsync(catalog.GetEngine(preparing[i].Name), branchIo, cancellationToken).ConfigureAwait(false);
        }, io).ConfigureAwait(false);

        var scannedTargets = new HashSet<string>(StringComparer.Ordinal);
        var found = new List<(DatabaseDefinition Database, TransactionBranch Branch, GlobalTransactionId Id)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < preparing.Count; i++)
        {
            var definition = preparing[i];
            if (scans[i].Error is { } error)
            {
                problems.Add(new RecoveryProblem(definition.Name, error));
                continue;
            }

            scannedTargets.Add(definition.Target);
            // Branch ids are unique per server (PostgreSQL lists only the connection's database anyway).
            var server = definition.Dialect.Name + "@" + string.Join(',', definition.Connection.Hosts);
            foreach (var prepared in scans[i].Branches!)
            {
                var branch = prepared.Branch;
                if (!seen.Add(server + "|" + branch))
                {
                    continue;
                }

                if (log is null || !GlobalTransactionId.TryParse(branch.GlobalId, out var id) || id.LogId != log.LogId)
                {
                    var isSwitchboards = GlobalTransactionId.TryParse(branch.GlobalId, out var other);
                    var whose = isSwitchboards ? $"another Switchboard coordinator's (log {other.LogId}, '{other.Coordinator}')" : "not prepared by Switchboard";
                    actions.Add(new RecoveryAction(branch.GlobalId, definition.Name, branch.Qualifier, RecoveryActionKind.Foreign, $"{whose}: left alone")
                    {
                        OtherLogId = isSwitchboards ? other.LogId : null,
                    });
                    continue;
                }

                found.Add((definition, branch, id));
            }
        }

        // 2b. The rows that branches wrote into their own databases' decision tables (transactions whose decision is kept in
        //     the participants). Read after the scan: a branch that committed after the scan listed it has its row visible by
        //     now, so a transaction with a committed branch is never taken for one that never finished preparing.
        var branchRows = new Dictionary<string, List<(DatabaseDefinition Database, string Key)>>(StringComparer.Ordinal);
        // Per transaction: the branches whose commit record is visible, and the first database it was seen in.
        var committedBranches = new Dictionary<string, (string FirstDatabase, HashSet<string> Qualifiers)>(StringComparer.Ordinal);
        var unreadable = scans.Any(scan => scan.Error is not null);
        if (log is not null)
        {
            var tables = new IReadOnlyList<DecisionRecord>?[preparing.Count];
            await Fanout.RunAsync(preparing.Count, async (i, branchIo) =>
            {
                tables[i] = scans[i].Error is null
                    ? await ReadDecisionTableAsync(catalog.GetEngine(preparing[i].Name), "its participants' commit records", problems, branchIo, cancellationToken)
                        .ConfigureAwait(false)
                    : null;
            }, io).ConfigureAwait(false);

            for (var i = 0; i < preparing.Count; i++)
            {
                unreadable |= scans[i].Error is null && tables[i] is null;
                foreach (var row in tables[i] ?? [])
                {
                    var slash = row.GlobalId.LastIndexOf('/');
                    if (slash <= 0)
                    {
                        continue; // a whole transaction's decision: this database was once a last resource
                    }

                    var gtid = row.GlobalId[..slash];
                    if (!branchRows.TryGetValue(gtid, out var rows))
                    {
                        branchRows[gtid] = rows = [];
                    }

                    rows.Add((preparing[i], row.GlobalId));
                    if (row.Outcome == 'C')
                    {
                        if (!committedBranches.TryGetValue(gtid, out var committed))
                        {
                            committedBranches[gtid] = committed = (preparing[i].Name, new HashSet<string>(StringComparer.Ordinal));
                        }

                        committed.Qualifiers.Add(row.GlobalId[(slash + 1)..]);
                    }
                }
            }
        }

        // Which processes are running, read again now: a process that renewed its heartbeat while the scan ran may have
        // prepared one of the branches the scan found, and must not be taken for ended from the reading before it.
        var incarnations = log is null ? [] : await log.ReadIncarnationsAsync(io, cancellationToken).ConfigureAwait(false);

        // 3. Decide and settle each of our transactions.
        var remaining = new HashSet<string>(StringComparer.Ordinal);
        foreach (var group in found.GroupBy(f => f.Branch.GlobalId, StringComparer.Ordinal))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var gtid = group.Key;
            var id = group.First().Id;
            var branches = group.Select(g => (g.Database, g.Branch)).ToList();
            var (outcome, why) = id.Branches is { } count
                ? await DecideFromBranchesAsync(coordinator, log!, id, gtid, count, branches, committedBranches, unreadable, incarnations, pass).ConfigureAwait(false)
                : await DecideAsync(coordinator, log!, id, gtid, branches, decisions, lastResources, lastResourceDecisions, incarnations, pass, options.DryRun, io,
                    cancellationToken).ConfigureAwait(false);
            foreach (var (definition, branch, _) in group)
            {
                var action = await SettleAsync(coordinator, catalog.GetEngine(definition.Name), branch, outcome, why, options.DryRun, io, cancellationToken)
                    .ConfigureAwait(false);
                actions.Add(action);
                if (action.Action is not (RecoveryActionKind.Committed or RecoveryActionKind.RolledBack))
                {
                    remaining.Add(gtid);
                }
            }
        }

        if (!options.DryRun && !unreadable)
        {
            coordinator.SettledAbandoned(pass.Abandoned, remaining);
        }

        // 4. Forget what is finished everywhere.
        var forgotten = 0;
        if (log is not null)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var done = logDecisions.Where(d => IsFinished(d, remaining, scannedTargets, now)).Select(d => d.GlobalId).ToList();
            forgotten += done.Count;
            if (!options.DryRun)
            {
                await log.DeleteDecisionsAsync(done, io, cancellationToken).ConfigureAwait(false);
                await ForgetDeadIncarnationsAsync(coordinator, log, incarnations, logDecisions.Select(d => d.GlobalId).Except(done).Concat(remaining), io,
                    cancellationToken).ConfigureAwait(false);
            }
        }

        // Commit records of transactions complete everywhere: a record is recovery's only proof that its branch committed, and
        // is needed as long as another branch may still be prepared — in a database that could not be read, or one this
        // catalog does not configure. So only when the committed records of all n branches are seen (then none can be
        // prepared), and only those of processes that have ended; a running coordinator forgets its own.
        var foundIds = found.Select(f => f.Branch.GlobalId).ToHashSet(StringComparer.Ordinal);
        var finishedRows = new Dictionary<DatabaseDefinition, List<string>>();
        foreach (var (gtid, rows) in branchRows)
        {
            if (log is null || foundIds.Contains(gtid) || !GlobalTransactionId.TryParse(gtid, out var id) || id.LogId != log.LogId
                || id.Branches is not { } count || !committedBranches.TryGetValue(gtid, out var committed) || committed.Qualifiers.Count < count
                || coordinator.IsUndecided(gtid) || await coordinator.IsRunningAsync(log, gtid, id.Incarnation, incarnations, pass).ConfigureAwait(false))
            {
                continue;
            }

            foreach (var (database, key) in rows)
            {
                if (!finishedRows.TryGetValue(database, out var keys))
                {
                    finishedRows[database] = keys = [];
                }

                keys.Add(key);
            }
        }

        foreach (var (definition, keys) in finishedRows)
        {
            forgotten += keys.Count;
            if (options.DryRun)
            {
                continue;
            }

            try
            {
                await TransactionCoordinator.DeleteDecisionsAsync(catalog.GetEngine(definition.Name), keys, io, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
            {
                problems.Add(new RecoveryProblem(definition.Name, "could not forget the commit records of finished transactions: " + Scrub(e, definition)));
            }
        }

        foreach (var definition in lastResources)
        {
            if (lastResourceDecisions[definition.Name] is not { Count: > 0 } records)
            {
                continue;
            }

            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var done = records.Where(d => IsFinished(d, remaining, scannedTargets, now)).Select(d => d.GlobalId).ToList();
            forgotten += done.Count;
            if (!options.DryRun && done.Count > 0)
            {
                try
                {
                    await TransactionCoordinator.DeleteDecisionsAsync(catalog.GetEngine(definition.Name), done, io, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is DbException or IOException or InvalidOperationException)
                {
                    problems.Add(new RecoveryProblem(definition.Name, "could not forget finished decisions: " + Scrub(e, definition)));
                }
            }
        }

        return new RecoveryReport(coordinator.Settings.LogLocation, log?.LogId, options.DryRun, actions, problems, forgotten);
    }

    private static async ValueTask<(char? Outcome, string Why)> DecideAsync(TransactionCoordinator coordinator, CoordinatorLog log, GlobalTransactionId id,
        string gtid, IReadOnlyList<(DatabaseDefinition Database, TransactionBranch Branch)> branches, Dictionary<string, DecisionRecord> decisions,
        List<DatabaseDefinition> lastResources, Dictionary<string, IReadOnlyList<DecisionRecord>?> lastResourceDecisions,
        IReadOnlyList<IncarnationRecord> incarnations, RecoveryPassStart pass, bool dryRun, IOBehavior io, CancellationToken cancellationToken)
    {
        DatabaseDefinition? decider = null;
        char? outcome;
        if (id.Decider is { } tag)
        {
            // The decision is inside the last resource: its commit and the decision row are one transaction.
            decider = lastResources.FirstOrDefault(d => GlobalTransactionId.DeciderTag(d.Name) == tag);
            if (decider is null)
            {
                return (null, $"its decision is kept in a last-resource database (tag {tag}) that is not configured here: left alone");
            }

            if (lastResourceDecisions[decider.Name] is not { } records)
            {
                return (null, $"its decision is kept in '{decider.Name}', which could not be read: left alone");
            }

            outcome = records.FirstOrDefault(r => r.GlobalId == gtid)?.Outcome;
        }
        else
        {
            outcome = decisions.TryGetValue(gtid, out var record) ? record.Outcome : null;
        }

        if (outcome is { } known)
        {
            return (known, known == 'C' ? "the commit decision is recorded" : "an abort is recorded");
        }

        if (coordinator.IsUndecided(gtid))
        {
            return (null, "still being decided by this process: left alone");
        }

        if (await coordinator.IsRunningAsync(log, gtid, id.Incarnation, incarnations, pass).ConfigureAwait(false))
        {
            return (null, $"the process that began it (incarnation {id.Incarnation}) is still running: left alone");
        }

        if (dryRun)
        {
            return ('A', "no commit decision is recorded (presumed abort)");
        }

        // Record the abort first: if the coordinator is alive after all and records its commit at the same moment, exactly
        // one of the two inserts wins, and both sides act on the winner.
        var participants = RecordedParticipant.Serialize(branches.Select(b => new RecordedParticipant(b.Branch.Qualifier, b.Database.Name, b.Database.Target, false)));
        char recorded;
        try
        {
            recorded = decider is null
                ? await log.RecordAsync(gtid, 'A', participants, io).ConfigureAwait(false)
                : await TransactionCoordinator.ClaimInLastResourceAsync(coordinator.Catalog.GetEngine(decider.Name), gtid, participants, io, cancellationToken)
                    .ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
        {
            // This transaction stays as it is; the others of the pass go on.
            var where = decider is null ? "the transaction log" : $"'{decider.Name}'";
            return (null, $"no commit decision is recorded, and the abort could not be recorded in {where} ({e.GetType().Name}): left alone");
        }

        coordinator.Faults?.Invoke(FaultPoint.RecoveryAfterDecision, -1);
        return (recorded, recorded == 'C' ? "its coordinator recorded the commit decision just now" : "no commit decision is recorded (presumed abort)");
    }

    /// <summary>
    /// The outcome of a transaction whose decision is kept in its participants: committed if one branch has committed (its
    /// row is visible) or all <paramref name="count"/> branches are prepared; otherwise it never finished preparing, and is
    /// rolled back — once the process that began it has ended, and every participant could be read.
    /// </summary>
    private static async ValueTask<(char? Outcome, string Why)> DecideFromBranchesAsync(TransactionCoordinator coordinator, CoordinatorLog log,
        GlobalTransactionId id, string gtid, int count, IReadOnlyList<(DatabaseDefinition Database, TransactionBranch Branch)> branches,
        Dictionary<string, (string FirstDatabase, HashSet<string> Qualifiers)> committedBranches, bool unreadable, IReadOnlyList<IncarnationRecord> incarnations,
        RecoveryPassStart pass)
    {
        if (committedBranches.TryGetValue(gtid, out var committedIn))
        {
            return ('C', $"its branch in '{committedIn.FirstDatabase}' has committed");
        }

        if (coordinator.IsUndecided(gtid))
        {
            return (null, "still being prepared by this process: left alone");
        }

        if (await coordinator.IsRunningAsync(log, gtid, id.Incarnation, incarnations, pass).ConfigureAwait(false))
        {
            return (null, $"the process that began it (incarnation {id.Incarnation}) is still running: left alone");
        }

        var prepared = branches.Select(b => b.Branch.Qualifier).Distinct(StringComparer.Ordinal).Count();
        if (prepared >= count)
        {
            return ('C', $"all {count} of its participants are prepared, which commits it");
        }

        if (unreadable)
        {
            return (null, $"{prepared} of its {count} participants {(prepared == 1 ? "is" : "are")} prepared, and a database that could not be read may hold another: left alone");
        }

        return ('A', $"only {prepared} of its {count} participants prepared it and none committed (presumed abort)");
    }

    private static async ValueTask<RecoveryAction> SettleAsync(TransactionCoordinator coordinator, DatabaseEngine engine, TransactionBranch branch, char? outcome,
        string why, bool dryRun, IOBehavior io, CancellationToken cancellationToken)
    {
        var gtid = branch.GlobalId;
        if (outcome is null)
        {
            return new RecoveryAction(gtid, engine.Name, branch.Qualifier, RecoveryActionKind.LeftInProgress, why);
        }

        var commit = outcome == 'C';
        if (dryRun)
        {
            return new RecoveryAction(gtid, engine.Name, branch.Qualifier, commit ? RecoveryActionKind.WouldCommit : RecoveryActionKind.WouldRollBack, why);
        }

        try
        {
            var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
            try
            {
                if (await PreparedBranches.CompleteAsync(engine.Dialect, connection, branch, commit, io, cancellationToken).ConfigureAwait(false) == BranchCompletion.Attached)
                {
                    return new RecoveryAction(gtid, engine.Name, branch.Qualifier, RecoveryActionKind.LeftInProgress,
                        why + "; the branch is still attached to the server session that prepared it, which has not ended: its coordinator's host or "
                        + "network died without closing it, or it is ending now. Switchboard gives such a session 15 idle minutes, after which recover "
                        + "finishes the branch; to finish it sooner, end that session on the server (MySQL: KILL its id from SHOW PROCESSLIST)");
                }
            }
            finally
            {
                await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
            }

            coordinator.Faults?.Invoke(FaultPoint.RecoveryAfterBranch, -1);
            SwitchboardTelemetry.RecordRecoveryAction(engine.Name, commit ? "commit" : "rollback");
            return new RecoveryAction(gtid, engine.Name, branch.Qualifier, commit ? RecoveryActionKind.Committed : RecoveryActionKind.RolledBack, why);
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
        {
            return new RecoveryAction(gtid, engine.Name, branch.Qualifier, RecoveryActionKind.Failed,
                $"could not {(commit ? "commit" : "roll back")} ({why}): {Scrub(e, engine.Definition)}");
        }
    }

    /// <summary>Whether a decision's transaction is complete everywhere, so that the decision can be forgotten.</summary>
    private static bool IsFinished(DecisionRecord decision, HashSet<string> remaining, HashSet<string> scannedTargets, long now)
    {
        if (remaining.Contains(decision.GlobalId) || RecordedParticipant.Parse(decision.Participants) is not { } participants)
        {
            return false;
        }

        // Every database that prepared a branch was looked at and holds none of it any more.
        if (!participants.Where(p => !p.LastResource).All(p => scannedTargets.Contains(p.Target)))
        {
            return false;
        }

        // An abort stays recorded for a while: a coordinator that stalled before its decision must still find it.
        return decision.Outcome == 'C' || now - decision.DecidedMs > AbortRetention.TotalMilliseconds;
    }

    private static async ValueTask ForgetDeadIncarnationsAsync(TransactionCoordinator coordinator, CoordinatorLog log, IReadOnlyList<IncarnationRecord> incarnations,
        IEnumerable<string> stillReferenced, IOBehavior io, CancellationToken cancellationToken)
    {
        var referenced = stillReferenced.Select(g => GlobalTransactionId.TryParse(g, out var id) ? id.Incarnation : null).ToHashSet(StringComparer.Ordinal);
        foreach (var incarnation in incarnations)
        {
            if (referenced.Contains(incarnation.Id) || await coordinator.IsAliveAsync(log, incarnation.Id, incarnations).ConfigureAwait(false))
            {
                continue;
            }

            await log.DeleteIncarnationAsync(incarnation.Id, io, cancellationToken).ConfigureAwait(false);
            TransactionCoordinator.DeleteLockFile(log, incarnation.Id);
        }
    }

    private static async ValueTask<(IReadOnlyList<PreparedBranch>? Branches, string? Error)> ScanAsync(DatabaseEngine engine, IOBehavior io,
        CancellationToken cancellationToken)
    {
        try
        {
            var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
            try
            {
                return (await engine.Dialect.ListPreparedAsync(connection, io == IOBehavior.Asynchronous, cancellationToken).ConfigureAwait(false), null);
            }
            finally
            {
                await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
        {
            return (null, "cannot list prepared transactions: " + Scrub(e, engine.Definition));
        }
    }

    private static async ValueTask<IReadOnlyList<DecisionRecord>?> ReadDecisionTableAsync(DatabaseEngine engine, string what, List<RecoveryProblem> problems,
        IOBehavior io, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await engine.OpenConnectionAsync(io, cancellationToken).ConfigureAwait(false);
            try
            {
                return await CoordinatorLog.ReadDecisionsAsync(connection, engine.Dialect.TransactionTables, io, cancellationToken).ConfigureAwait(false);
            }
            catch (DbException e) when (engine.Dialect.Classify(e) == DatabaseErrorKind.UndefinedObject)
            {
                return []; // the table was never created: nothing was ever decided there
            }
            finally
            {
                await DatabaseEngine.CloseAsync(connection, io).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is DbException or IOException or InvalidOperationException or TimeoutException)
        {
            lock (problems)
            {
                problems.Add(new RecoveryProblem(engine.Name, $"cannot read {what}: " + Scrub(e, engine.Definition)));
            }

            return null;
        }
    }

    private static string Scrub(Exception e, DatabaseDefinition definition) => SecretMasker.Scrub(e.Message, definition.Secrets);
}
