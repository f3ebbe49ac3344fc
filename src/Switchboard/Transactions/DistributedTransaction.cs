using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using Switchboard.Diagnostics;
using Switchboard.Internal;
using Switchboard.Transactions;

namespace Switchboard;

/// <summary>
/// A transaction across named databases: all of them commit, or none does — even if the process dies at the worst moment.
/// Begin one with <see cref="DistributedTransactionExtensions.BeginDistributedAsync(SwitchboardCatalog, string[])"/>, do the
/// work through <see cref="Session"/>, then <see cref="CommitAsync(CancellationToken)"/>. Disposing without committing rolls everything back.
/// <para>
/// Commit prepares every participant in parallel (PostgreSQL <c>PREPARE TRANSACTION</c>, MySQL <c>XA PREPARE</c>), makes the
/// decision durable (the coordinator log, or the last resource's own commit), then commits every participant in parallel.
/// A database that cannot be told is completed later by the background retry or by recovery, and
/// <see cref="DistributedTransactionException"/> says so for each database. Not thread-safe, but the sessions of different
/// databases may be used at the same time.
/// </para>
/// </summary>
public sealed partial class DistributedTransaction : IDisposable, IAsyncDisposable
{
    /// <summary>A coordinator that resumes after this long between prepare and decision aborts instead (recovery may have given up on it).</summary>
    private static readonly TimeSpan MaxPrepareToDecision = TimeSpan.FromMinutes(10);

    // Phase two's operations as error messages name them, on any server (not PostgreSQL's COMMIT PREPARED, say).
    private const string CommitOfPrepared = "the commit of the prepared branch";
    private const string RollbackOfPrepared = "the rollback of the prepared branch";

    private readonly TransactionCoordinator _coordinator;
    private readonly Participant[] _participants;
    private readonly Participant? _lastResource;
    private readonly CoordinatorLog? _log;

    // The commit decision is written into every branch as it prepares (GlobalTransactionId.Branches): the transaction is
    // committed once all of them are prepared, with no durable write of the coordinator's own between the two phases.
    private readonly bool _decisionInBranches;
    private State _state = State.Active;
    private IReadOnlyList<ParticipantResult>? _results;

    private DistributedTransaction(TransactionCoordinator coordinator, string id, DistributedTransactionOptions options, Participant[] participants,
        Participant? lastResource, CoordinatorLog? log, bool decisionInBranches)
    {
        _coordinator = coordinator;
        Id = id;
        Options = options;
        _participants = participants;
        _lastResource = lastResource;
        _log = log;
        _decisionInBranches = decisionInBranches;
        Databases = [.. participants.Select(p => p.Database)];
    }

    private enum State
    {
        Active,
        Completing,
        Committed,
        RolledBack,
    }

    /// <summary>The global transaction id (what <c>pg_prepared_xacts</c>, <c>XA RECOVER</c> and <c>switchboard recover</c> show).</summary>
    public string Id { get; }

    public DistributedTransactionOptions Options { get; }

    /// <summary>The participating databases, in the order given.</summary>
    public IReadOnlyList<string> Databases { get; }

    /// <summary>Whether work can still be done and committed.</summary>
    public bool IsActive => _state == State.Active;

    /// <summary>What became of each database, once the transaction has committed or rolled back (null before).</summary>
    public IReadOnlyList<ParticipantResult>? Results => _results;

    /// <summary>The session bound to this transaction on one of its databases. Its own commit and rollback refuse.</summary>
    public DatabaseSession Session(string database)
    {
        ArgumentNullException.ThrowIfNull(database);
        if (_state != State.Active)
        {
            throw new InvalidOperationException($"Distributed transaction {Id} has ended ({_state}): begin a new one.");
        }

        return _participants.FirstOrDefault(p => string.Equals(p.Database, database, StringComparison.OrdinalIgnoreCase))?.Session
            ?? throw new ArgumentException($"Database '{database}' is not part of distributed transaction {Id} (participants: {string.Join(", ", Databases)}).",
                nameof(database));
    }

    public void Commit() => CommitAsync(IOBehavior.Synchronous, CancellationToken.None).GetCompletedResult();

    /// <summary>Commits on every database, or on none. Throws <see cref="DistributedTransactionException"/> saying, per database, what happened when it could not simply commit.</summary>
    public Task CommitAsync(CancellationToken cancellationToken = default) => CommitAsync(IOBehavior.Asynchronous, cancellationToken).AsTask();

    public void Rollback() => RollbackAsync(IOBehavior.Synchronous).GetCompletedResult();

    public Task RollbackAsync() => RollbackAsync(IOBehavior.Asynchronous).AsTask();

    public void Dispose() => DisposeAsync(IOBehavior.Synchronous).GetCompletedResult();

    public ValueTask DisposeAsync() => DisposeAsync(IOBehavior.Asynchronous);

    public override string ToString() => $"DistributedTransaction({Id}: {string.Join(", ", Databases)})";

    /// <summary>Opens a connection and begins a branch on every database in parallel; checks before any work that each can take part.</summary>
    internal static async ValueTask<DistributedTransaction> BeginAsync(SwitchboardCatalog catalog, IReadOnlyList<string> databases,
        DistributedTransactionOptions options, IOBehavior io, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(databases);
        ArgumentNullException.ThrowIfNull(options);
        if (databases.Count == 0)
        {
            throw new ArgumentException("A distributed transaction needs at least one database.", nameof(databases));
        }

        for (var i = 1; i < databases.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(databases[i], databases[j], StringComparison.OrdinalIgnoreCase))
                {
                    throw new ArgumentException($"Database '{databases[j]}' is named twice.", nameof(databases));
                }
            }
        }

        var coordinator = catalog.Transactions;
        var engines = databases.Select(catalog.GetEngine).ToList();
        var twoPhase = options.Mode == DistributedTransactionMode.TwoPhaseCommit;
        var cannotPrepare = engines.Where(e => !e.Definition.CanPrepare).ToList();
        if (twoPhase && cannotPrepare.Count > 1)
        {
            throw new TwoPhaseCommitUnavailableException(
                [.. cannotPrepare.Select(e => new KeyValuePair<string, string>(e.Name, $"({e.Dialect.Name} at {e.Definition.Target}) cannot prepare a transaction"))],
                "At most one database that cannot prepare can join a two-phase commit, as its last resource. "
                + "Use DistributedTransactionOptions.BestEffort for one-phase commits in order");
        }

        // One database alone needs no protocol: an ordinary transaction and a one-phase commit.
        twoPhase &= engines.Count > 1;
        string id;
        CoordinatorLog? log = null;
        var lastResource = twoPhase ? cannotPrepare.FirstOrDefault() : null;
        var decisionInBranches = false;
        if (twoPhase)
        {
            // The log first: a log that cannot be opened is reported before any database is touched.
            log = await coordinator.GetWritableLogAsync(io, cancellationToken).ConfigureAwait(false);
            decisionInBranches = lastResource is null && coordinator.Settings.DecisionsInParticipants
                && await coordinator.CanKeepDecisionsAsync(engines, io, cancellationToken).ConfigureAwait(false);
            id = coordinator.NewGlobalId(lastResource is null ? null : GlobalTransactionId.DeciderTag(lastResource.Name),
                decisionInBranches ? engines.Count : null);
            coordinator.MarkUndecided(id);
        }
        else
        {
            id = coordinator.NewLocalId();
        }

        var participants = engines.Select((e, i) => new Participant(i, e, twoPhase && e.Definition.CanPrepare,
            new Dialects.TransactionBranch(id, i.ToString(CultureInfo.InvariantCulture)))).ToArray();
        var sessionOptions = new SessionOptions { IsolationLevel = options.IsolationLevel, CommandTimeout = options.CommandTimeout };
        var problems = new KeyValuePair<string, string>?[participants.Length];
        var errors = new Exception?[participants.Length];
        await TakeSlotsAsync(coordinator, participants, id, io, cancellationToken).ConfigureAwait(false);
        await Fanout.RunAsync(participants.Length, async (i, branchIo) =>
        {
            try
            {
                problems[i] = await BeginParticipantAsync(coordinator, participants[i], lastResource, sessionOptions, options, id, branchIo, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Every failure, a driver's bug too: the participants that began are rolled back below, and (synchronously,
                // in Parallel.For) a throw here would leave later participants' pool slots taken for good.
                errors[i] = e;
            }
        }, io).ConfigureAwait(false);

        if (problems.Any(p => p is not null) || errors.Any(e => e is not null))
        {
            foreach (var p in participants)
            {
                await RollbackQuietlyAsync(p, io).ConfigureAwait(false);
            }

            coordinator.MarkDecided(id);
            if (problems.Any(p => p is not null))
            {
                throw new TwoPhaseCommitUnavailableException([.. problems.Where(p => p is not null).Select(p => p!.Value)]);
            }

            var first = errors.First(e => e is not null)!;
            if (first is DbException and not SwitchboardException)
            {
                throw participants[Array.IndexOf(errors, first)].Fail("BEGIN", first);
            }

            ExceptionDispatchInfo.Throw(first);
        }

        return new DistributedTransaction(coordinator, id, options, participants, lastResource is null ? null : participants[engines.IndexOf(lastResource)], log,
            decisionInBranches);
    }

    /// <summary>
    /// Takes a pool slot for every participant, one at a time, in the same order (by database name) in every transaction:
    /// taken all at once, two transactions could each hold one pool's last slot and wait for the other's until the
    /// checkout timeout. Taking a free slot costs no I/O.
    /// </summary>
    private static async ValueTask TakeSlotsAsync(TransactionCoordinator coordinator, Participant[] participants, string id, IOBehavior io,
        CancellationToken cancellationToken)
    {
        var order = (Participant[])participants.Clone();
        Array.Sort(order, static (a, b) => string.CompareOrdinal(a.Engine.Name, b.Engine.Name));
        var taken = 0;
        try
        {
            for (; taken < order.Length; taken++)
            {
                await order[taken].Engine.TakeSlotAsync(io, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            for (var i = 0; i < taken; i++)
            {
                order[i].Engine.ReturnSlot();
            }

            coordinator.MarkDecided(id);
            throw;
        }
    }

    private static async ValueTask<KeyValuePair<string, string>?> BeginParticipantAsync(TransactionCoordinator coordinator, Participant p, DatabaseEngine? lastResource,
        SessionOptions sessionOptions, DistributedTransactionOptions options, string id, IOBehavior io, CancellationToken cancellationToken)
    {
        var connection = await p.Engine.OpenWithTakenSlotAsync(io, cancellationToken).ConfigureAwait(false);
        p.Connection = connection;
        p.SessionHint = p.Dialect.ServerSessionId(connection);
        var async = io == IOBehavior.Asynchronous;
        if (p.Prepares)
        {
            if (await coordinator.CheckReadyAsync(p.Engine, connection, io, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                return new(p.Database, $"({p.Dialect.Name} at {p.Engine.Definition.Target}) cannot take part in a two-phase commit: {problem}");
            }

            // A branch before it is begun: if the begin fails after the server started the branch (a cancellation, a lost
            // reply), the rollback still ends it, so the connection never goes back to the pool with an XA branch open.
            p.IsBranch = true;
            p.Transaction = await p.Dialect.BeginBranchAsync(connection, p.Engine.Definition, p.Branch, options.IsolationLevel, async, cancellationToken)
                .ConfigureAwait(false);
        }
        else
        {
            if (p.Engine == lastResource
                && await coordinator.EnsureDecisionTableAsync(p.Engine, connection, io, cancellationToken).ConfigureAwait(false) is { } noTable)
            {
                return new(p.Database, $"({p.Dialect.Name} at {p.Engine.Definition.Target}) cannot be the last resource of a two-phase commit: {noTable}");
            }

            p.Transaction = await p.Dialect.BeginTransactionAsync(connection, p.Engine.Definition, options.IsolationLevel, false, async, cancellationToken)
                .ConfigureAwait(false);
        }

        p.State = BranchState.Active;
        p.Session = new DatabaseSession(p.Engine, sessionOptions, coordinator.Catalog.SessionLogger);
        p.Session.Enlist(connection, p.Transaction, id);
        return null;
    }

    private async ValueTask CommitAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        ThrowIfNotActive("commit");
        using var activity = SwitchboardTelemetry.StartDistributedCommit(Id, Databases);
        try
        {
            await CompleteCommitAsync(io, cancellationToken).ConfigureAwait(false);
        }
        catch (DistributedTransactionException e)
        {
            SwitchboardTelemetry.RecordDistributedTransaction(OutcomeName(e.Outcome), Databases);
            activity?.SetTag(SwitchboardTelemetry.OutcomeTag, OutcomeName(e.Outcome));
            activity?.SetTag(SwitchboardTelemetry.ErrorTypeTag, nameof(DistributedTransactionException));
            activity?.SetStatus(ActivityStatusCode.Error, e.Outcome.ToString());
            throw;
        }
        catch (Exception e)
        {
            activity?.SetTag(SwitchboardTelemetry.ErrorTypeTag, e.GetType().Name);
            activity?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }

        SwitchboardTelemetry.RecordDistributedTransaction(OutcomeName(DistributedOutcome.Committed), Databases);
        activity?.SetTag(SwitchboardTelemetry.OutcomeTag, OutcomeName(DistributedOutcome.Committed));
    }

    private static string OutcomeName(DistributedOutcome outcome) => outcome switch
    {
        DistributedOutcome.Committed => "committed",
        DistributedOutcome.RolledBack => "rolled_back",
        DistributedOutcome.Partial => "partial",
        _ => "in_doubt",
    };

    private async ValueTask CompleteCommitAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        _state = State.Completing;
        Participant? aborted = null;
        foreach (var p in _participants)
        {
            var (_, _, statementFailed, firstFailure) = p.Session!.Unenlist();
            p.EarlierFailure = firstFailure;
            if (statementFailed && p.Dialect.TransactionAbortsOnError)
            {
                aborted ??= p;
            }
        }

        if (aborted is not null)
        {
            // Named on the participant too, so that the exception's DatabaseName and the per-database report say where.
            var earlier = aborted.EarlierFailure;
            aborted.Fail("COMMIT", new InvalidOperationException(earlier is null
                ? "a statement failed here earlier in the transaction, so the server aborted this database's part"
                : "the server aborted this database's part"), rolledBackBy: earlier);
            throw await AbortAsync($"a statement failed on '{aborted.Database}' earlier in the transaction, so the server aborted its part", null, io)
                .ConfigureAwait(false);
        }

        if (_participants.Any(p => p.Prepares))
        {
            await CommitTwoPhaseAsync(io, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await CommitInOrderAsync(io).ConfigureAwait(false);
        }
    }

    private async ValueTask CommitTwoPhaseAsync(IOBehavior io, CancellationToken cancellationToken)
    {
        var faults = _coordinator.Faults;
        var preparers = _participants.Where(p => p.Prepares).ToArray();
        var started = Stopwatch.GetTimestamp();
        var participantsRecord = _decisionInBranches ? "" : _coordinator.ParticipantsRecord(_participants);
        var decidedMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // A process whose registration in a log database has gone stale may already look ended to recovery elsewhere,
        // which would roll back what it prepares: with half the margin gone, do not prepare at all.
        if (_coordinator.SinceLastHeartbeat is { } stale && stale > TransactionCoordinator.HeartbeatTimeout / 2)
        {
            throw await AbortAsync($"this process has not renewed its registration in the transaction log ({_log?.Location}) for {stale.TotalSeconds:0} s, "
                + $"so recovery elsewhere may soon take it for ended (after {TransactionCoordinator.HeartbeatTimeout.TotalSeconds:0} s); nothing was prepared",
                null, io).ConfigureAwait(false);
        }

        // Phase one: prepare everywhere at once.
        await Fanout.RunAsync(preparers.Length, async (i, branchIo) =>
        {
            var p = preparers[i];
            try
            {
                var async = branchIo == IOBehavior.Asynchronous;
                if (_decisionInBranches)
                {
                    var record = new Dialects.CommitRecord(p.Branch.ToString(), decidedMs);
                    await p.Dialect.PrepareBranchAsync(p.Connection!, p.Transaction, p.Branch, record, async, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await p.Dialect.PrepareBranchAsync(p.Connection!, p.Transaction, p.Branch, async, cancellationToken).ConfigureAwait(false);
                }

                p.State = BranchState.Prepared;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException or OperationCanceledException)
            {
                p.State = BranchState.PrepareFailed;
                p.MaybePrepared = p.ConnectionLost(e);
                p.Fail("PREPARE", e, rolledBackBy: p.Dialect.IsBranchRolledBack(e) ? p.EarlierFailure : null);
                return;
            }

            faults?.Invoke(FaultPoint.AfterPrepare, p.Index);
        }, io).ConfigureAwait(false);

        if (preparers.FirstOrDefault(p => p.State == BranchState.PrepareFailed) is { } failed)
        {
            throw await AbortAsync($"'{failed.Database}' could not prepare", failed.Error, io).ConfigureAwait(false);
        }

        faults?.Invoke(FaultPoint.BeforeDecision, -1);
        if (!_decisionInBranches && Stopwatch.GetElapsedTime(started) > MaxPrepareToDecision)
        {
            throw await AbortAsync($"more than {MaxPrepareToDecision.TotalMinutes:0} minutes passed between prepare and decision, so recovery may have rolled it back",
                null, io).ConfigureAwait(false);
        }

        // The decision. Until it is durable everything can still roll back; from then on everything commits. With the
        // decision in the branches it is already durable: every branch is prepared, and each holds the commit record.
        if (_lastResource is { } last)
        {
            await CommitLastResourceAsync(last, participantsRecord, io).ConfigureAwait(false);
        }
        else if (!_decisionInBranches)
        {
            char recorded;
            try
            {
                recorded = await _log!.RecordAsync(Id, 'C', participantsRecord, io).ConfigureAwait(false);
            }
            catch (TransactionLogException e)
            {
                recorded = _log!.MayHaveLanded(e) ? await ClaimAbortAfterFailedLogWriteAsync(e, participantsRecord, io).ConfigureAwait(false) : 'A';
                if (recorded != 'C')
                {
                    throw await AbortAsync($"the decision could not be written to the transaction log ({_log!.Location})", e, io).ConfigureAwait(false);
                }
            }

            if (recorded != 'C')
            {
                throw await AbortAsync("recovery found it prepared without a decision and rolled it back first", null, io).ConfigureAwait(false);
            }
        }

        faults?.Invoke(FaultPoint.AfterDecision, -1);
        _coordinator.MarkDecided(Id);

        // Phase two: commit everywhere at once. Not cancellable: the outcome is decided.
        if (Options.CompleteInBackground && _coordinator.TryStartBackgroundCompletion())
        {
            _state = State.Committed;
            _results = [.. _participants.Select(p => new ParticipantResult(p.Database, ParticipantOutcome.Committed, null))];
            var commitSpan = Activity.Current is { OperationName: SwitchboardTelemetry.DistributedCommitSpan } current ? current.Context : default;
            _ = Task.Run(async () =>
            {
                // The commit's span (flowed here as Activity.Current) ends when CommitAsync returns, before this work does.
                Activity.Current = null;
                using var span = SwitchboardTelemetry.StartBackgroundCompletion(Id, Databases, commitSpan);
                try
                {
                    var inDoubt = await CompletePhaseTwoAsync(preparers, IOBehavior.Asynchronous).ConfigureAwait(false);
                    var lost = preparers.Where(p => p.State == BranchState.RolledBack).Select(p => p.Database).ToList();
                    if (inDoubt.Count > 0)
                    {
                        LogInDoubt(_coordinator.Logger, Id, string.Join(", ", inDoubt.Select(p => p.Database)));
                    }

                    if (lost.Count > 0)
                    {
                        TransactionCoordinator.LogPartial(_coordinator.Logger, Id, string.Join(", ", lost));
                    }

                    // As CommitAsync would have reported it: committed (some still in doubt: an error status), or partial.
                    span?.SetTag(SwitchboardTelemetry.OutcomeTag, OutcomeName(lost.Count > 0 ? DistributedOutcome.Partial : DistributedOutcome.Committed));
                    if (lost.Count > 0 || inDoubt.Count > 0)
                    {
                        span?.SetStatus(ActivityStatusCode.Error, lost.Count > 0 ? nameof(DistributedOutcome.Partial) : "in doubt on " + string.Join(",", inDoubt.Select(p => p.Database)));
                    }
                }
                catch (Exception e)
                {
                    // Nobody awaits this task: say it here. Branches left prepared are completed by the retry or recovery.
                    span?.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
                    _coordinator.ReportBackgroundFailure(e);
                }
                finally
                {
                    _coordinator.EndBackgroundCompletion();
                }
            }, CancellationToken.None);
            return;
        }

        var left = await CompletePhaseTwoAsync(preparers, io).ConfigureAwait(false);
        _state = State.Committed;
        if (preparers.Where(p => p.State == BranchState.RolledBack).ToList() is { Count: > 0 } lost)
        {
            throw Failure(DistributedOutcome.Partial, $"{Names(lost)} did not commit: rolled back by someone else after every branch was prepared", lost[0].Error);
        }

        if (left.Count > 0)
        {
            LogInDoubt(_coordinator.Logger, Id, string.Join(", ", left.Select(p => p.Database)));
            throw Failure(DistributedOutcome.Committed, $"{Names(left)} could not be told to commit", left[0].Error);
        }
    }

    /// <summary>
    /// A failed write of the commit decision may still have landed (a log in a database whose COMMIT lost its reply). Claim
    /// the abort instead — insert-if-absent, so exactly one of the two decisions is recorded — and act on the one that is.
    /// If even that fails, the outcome is unknown: everything stays prepared, and recovery settles it from the log.
    /// </summary>
    private async ValueTask<char> ClaimAbortAfterFailedLogWriteAsync(TransactionLogException failure, string participantsRecord, IOBehavior io)
    {
        try
        {
            return await _log!.RecordAsync(Id, 'A', participantsRecord, io).ConfigureAwait(false);
        }
        catch (TransactionLogException)
        {
            throw await HandToRecoveryAsync(
                $"the decision could not be written to the transaction log ({_log!.Location}), nor could it be read back; recovery commits it if the commit "
                + "decision reached the log, and rolls it back otherwise", failure, io).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The decision is unknown to this coordinator (its own write, or the last resource's commit, failed without saying
    /// how): every participant stays as it is, in doubt, and recovery in this process settles the transaction from where
    /// the decision is kept, as soon as it can read it.
    /// </summary>
    private async ValueTask<DistributedTransactionException> HandToRecoveryAsync(string reason, Exception? cause, IOBehavior io)
    {
        foreach (var p in _participants)
        {
            p.State = BranchState.InDoubt;
        }

        await FinishAsync(io).ConfigureAwait(false);
        _state = State.Completing;
        _coordinator.MarkDecided(Id);
        _coordinator.Abandon(Id);
        return Failure(DistributedOutcome.InDoubt, reason, cause);
    }

    /// <summary>Commits every prepared branch in parallel; hands those that cannot be told to the background retry and returns them.</summary>
    private async ValueTask<List<Participant>> CompletePhaseTwoAsync(Participant[] preparers, IOBehavior io)
    {
        var faults = _coordinator.Faults;
        await Fanout.RunAsync(preparers.Length, async (i, branchIo) =>
        {
            var p = preparers[i];
            await CompletePreparedAsync(p, commit: true, _decisionInBranches, branchIo).ConfigureAwait(false);
            if (p.State == BranchState.Committed)
            {
                faults?.Invoke(FaultPoint.AfterCommit, p.Index);
            }
        }, io).ConfigureAwait(false);

        await FinishAsync(io).ConfigureAwait(false);
        var inDoubt = preparers.Where(p => p.State == BranchState.InDoubt).ToList();
        var branchRecords = _decisionInBranches ? preparers.Select(p => (p.Engine, p.Branch.ToString())).ToList() : null;
        if (inDoubt.Count == 0)
        {
            _coordinator.ForgetDecision(Id, _lastResource?.Engine, branchRecords);
        }
        else
        {
            _coordinator.RetryLater(Id, commit: true, inDoubt.Select(p => (p.Database, p.Branch)), _lastResource?.Engine, branchRecords,
                sessionHints: inDoubt.ToDictionary(p => p.Database, p => p.SessionHint, StringComparer.OrdinalIgnoreCase));
        }

        return inDoubt;
    }

    /// <summary>
    /// The last resource cannot prepare, so its one-phase commit is the decision: the decision row is written inside its
    /// transaction, and recovery reads it there.
    /// </summary>
    private async ValueTask CommitLastResourceAsync(Participant last, string participantsRecord, IOBehavior io)
    {
        try
        {
            await CoordinatorLog.ExecuteAsync(last.Connection!, last.Transaction, last.Dialect.TransactionTables.InsertDecision,
                new { gtid = Id, outcome = "C", participants = participantsRecord, decided = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() }, io,
                CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
        {
            // Nothing is committed: the row (or a presumed abort recovery recorded first) blocked the commit.
            last.Fail("recording the decision", e);
            throw await AbortAsync($"the last resource '{last.Database}' could not record the decision", last.Error, io).ConfigureAwait(false);
        }

        try
        {
            await CommitLocalAsync(last, io).ConfigureAwait(false);
            last.State = BranchState.Committed;
            return;
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
        {
            last.Fail("COMMIT", e);
            if (!last.Dialect.CommitMayHaveLanded(e, last.ConnectionLost(e)))
            {
                // The server answered: the commit failed (a deferred constraint, say), and nothing of it is committed.
                throw await AbortAsync($"the last resource '{last.Database}' could not commit", last.Error, io).ConfigureAwait(false);
            }
        }

        // The reply was lost. Whether that commit happened is written in the database itself. Not a plain read: the commit
        // may still be running on the old session, and a read would not wait for it. Claiming the abort waits, and exactly
        // one of the two outcomes is recorded.
        char outcome;
        try
        {
            outcome = await TransactionCoordinator.ClaimInLastResourceAsync(last.Engine, Id, participantsRecord, io, CancellationToken.None)
                .ConfigureAwait(false);
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
        {
            throw await HandToRecoveryAsync($"the last resource '{last.Database}' failed while committing and its decision cannot be read back", last.Error, io)
                .ConfigureAwait(false);
        }

        if (outcome == 'C')
        {
            last.State = BranchState.Committed;
            return;
        }

        last.State = BranchState.RolledBack;
        throw await AbortAsync($"the last resource '{last.Database}' could not commit", last.Error, io).ConfigureAwait(false);
    }

    /// <summary>One-phase commits in the order given: best-effort mode, or a transaction with one participant.</summary>
    private async ValueTask CommitInOrderAsync(IOBehavior io)
    {
        Participant? failed = null;
        foreach (var p in _participants)
        {
            if (failed is not null)
            {
                await RollbackQuietlyAsync(p, io).ConfigureAwait(false);
                continue;
            }

            try
            {
                if (p.IsBranch)
                {
                    await p.Dialect.CommitBranchOnePhaseAsync(p.Connection!, p.Transaction, p.Branch, io == IOBehavior.Asynchronous, CancellationToken.None)
                        .ConfigureAwait(false);
                }
                else
                {
                    await CommitLocalAsync(p, io).ConfigureAwait(false);
                }

                p.State = BranchState.Committed;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
            {
                p.State = p.ConnectionLost(e) ? BranchState.Unknown : BranchState.RolledBack;
                p.Fail("COMMIT", e);
                failed = p;
            }
        }

        _coordinator.MarkDecided(Id);
        await FinishAsync(io).ConfigureAwait(false);
        if (failed is null)
        {
            _state = State.Committed;
            return;
        }

        var committed = _participants.Any(p => p.State == BranchState.Committed);
        _state = committed ? State.Committed : State.RolledBack;
        var outcome = committed ? DistributedOutcome.Partial
            : failed.State == BranchState.Unknown ? DistributedOutcome.InDoubt
            : DistributedOutcome.RolledBack;
        throw Failure(outcome, $"'{failed.Database}' could not commit", failed.Error);
    }

    private static async ValueTask CommitLocalAsync(Participant p, IOBehavior io)
    {
        if (io == IOBehavior.Synchronous)
        {
            p.Transaction!.Commit();
        }
        else
        {
            await p.Transaction!.CommitAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Commits or rolls back a prepared branch; once more on a fresh connection if its own was lost; else leaves it in doubt.</summary>
    private static async ValueTask CompletePreparedAsync(Participant p, bool commit, bool decisionInBranches, IOBehavior io)
    {
        for (var attempt = 0; attempt < 2; attempt++)
        {
            DbConnection? fresh = null;
            try
            {
                var (connection, isFresh) = await p.ConnectionForAsync(io, CancellationToken.None).ConfigureAwait(false);
                fresh = isFresh ? connection : null;

                // A PREPARE whose connection was lost may still be running in its old session: "no such branch" proves
                // nothing until that session has ended.
                var sessionEnded = !p.MaybePrepared || !isFresh
                    || await PreparedBranches.EndPreparingSessionsQuietlyAsync(p.Dialect, connection, p.Branch, io).ConfigureAwait(false);

                // On a fresh connection a branch may still be attached to the branch's own session (its client gone).
                var completion = await PreparedBranches.CompleteAsync(p.Dialect, connection, p.Branch, commit, isFresh ? p.SessionHint : null, io,
                    CancellationToken.None).ConfigureAwait(false);
                p.State = completion switch
                {
                    BranchCompletion.Done => commit ? BranchState.Committed : BranchState.RolledBack,
                    BranchCompletion.NotFound when !sessionEnded => BranchState.InDoubt,
                    BranchCompletion.NotFound when commit && decisionInBranches
                        && !await PreparedBranches.CommitRecordVisibleAsync(p.Dialect, connection, p.Branch, io).ConfigureAwait(false) => BranchState.RolledBack,
                    BranchCompletion.NotFound when !commit && decisionInBranches
                        && await PreparedBranches.CommitRecordVisibleAsync(p.Dialect, connection, p.Branch, io).ConfigureAwait(false) => BranchState.Committed,
                    BranchCompletion.NotFound => commit ? BranchState.Committed : BranchState.RolledBack,
                    _ => BranchState.InDoubt, // held by a session that has not ended yet
                };
                if (p.State == BranchState.Committed && !commit)
                {
                    p.Fail(RollbackOfPrepared, new InvalidOperationException(
                        $"its prepared branch {p.Branch} was committed by someone else before it could be rolled back (recovery, finding every branch prepared)"));
                }

                if (p.State == BranchState.RolledBack && commit)
                {
                    // Finished by someone else, and not as decided: another process's recovery took this one for dead.
                    p.Fail(CommitOfPrepared, new InvalidOperationException(
                        $"its prepared branch {p.Branch} was rolled back by someone else before it could be committed (another process's recovery, taking "
                        + "this one for ended?), so this database did not commit"));
                }

                return;
            }
            catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
            {
                p.State = BranchState.InDoubt;
                p.Fail(commit ? CommitOfPrepared : RollbackOfPrepared, e);
                if (!p.ConnectionLost(e) || fresh is not null)
                {
                    return;
                }

                // The branch's own connection was lost: drop it, and try once on a new one.
                await p.ReleaseAsync(io, discard: true).ConfigureAwait(false);
            }
            finally
            {
                if (fresh is not null)
                {
                    await DatabaseEngine.CloseAsync(fresh, io).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Rolls back every participant (prepared or not); returns the report to throw.</summary>
    private async ValueTask<DistributedTransactionException> AbortAsync(string reason, Exception? cause, IOBehavior io)
    {
        var faults = _coordinator.Faults;
        await Fanout.RunAsync(_participants.Length, async (i, branchIo) =>
        {
            var p = _participants[i];
            if (p.State == BranchState.Prepared || p.State == BranchState.PrepareFailed && p.MaybePrepared)
            {
                await CompletePreparedAsync(p, commit: false, _decisionInBranches, branchIo).ConfigureAwait(false);
            }
            else if (p.State is BranchState.Active or BranchState.PrepareFailed)
            {
                await RollbackQuietlyAsync(p, branchIo).ConfigureAwait(false);
            }

            if (p.State == BranchState.RolledBack)
            {
                faults?.Invoke(FaultPoint.AfterRollback, p.Index);
            }
        }, io).ConfigureAwait(false);

        // With the decision in the branches, "all prepared" means committed. A rollback is settled only once some branch is
        // known not to be prepared: one that never prepared, or one rolled back just now. Until then recovery may still find
        // every branch prepared and commit, so the caller hears "in doubt", not "rolled back".
        var settled = !_decisionInBranches || _participants.Any(p => p.State == BranchState.RolledBack);
        await FinishAsync(io).ConfigureAwait(false);
        _state = State.RolledBack;
        var inDoubt = _participants.Where(p => p.State == BranchState.InDoubt).ToList();

        // A branch found committed by someone else means the transaction is committed (by the rule, every branch was
        // prepared): what is left in doubt must commit too, not roll back.
        var committed = _participants.Where(p => p.State == BranchState.Committed).ToList();
        var commit = committed.Count > 0;
        if (inDoubt.Count > 0)
        {
            _coordinator.RetryLater(Id, commit, inDoubt.Select(p => (p.Database, p.Branch)), null,
                branchRecords: commit && _decisionInBranches ? [.. _participants.Where(p => p.Prepares).Select(p => (p.Engine, p.Branch.ToString()))] : null,
                sessionHints: inDoubt.ToDictionary(p => p.Database, p => p.SessionHint, StringComparer.OrdinalIgnoreCase),
                maybePrepared: [.. inDoubt.Where(p => p.MaybePrepared).Select(p => p.Database)]);
        }

        // Only now, with any retry queued: recovery in this process leaves a transaction alone while it is undecided or has retries.
        _coordinator.MarkDecided(Id);

        if (commit)
        {
            return Failure(DistributedOutcome.Partial, $"{reason}; but {Names(committed)} had been committed by someone else before it could be rolled back",
                cause);
        }

        return settled
            ? Failure(DistributedOutcome.RolledBack, reason, cause)
            : Failure(DistributedOutcome.InDoubt, reason + "; no participant could be rolled back yet: the background retry rolls them back, and if this process ends first, "
                + "recovery commits it if every branch turns out prepared and rolls it back otherwise", cause);
    }

    /// <summary>Rolls back an unprepared branch; if that fails the connection is discarded, and the server rolls back when it goes.</summary>
    private static async ValueTask RollbackQuietlyAsync(Participant p, IOBehavior io)
    {
        if (p.Connection is null)
        {
            p.State = BranchState.RolledBack;
            return;
        }

        var discard = false;
        try
        {
            var async = io == IOBehavior.Asynchronous;
            if (p.IsBranch)
            {
                await p.Dialect.RollbackBranchAsync(p.Connection, p.Transaction, p.Branch, async, CancellationToken.None).ConfigureAwait(false);
            }
            else if (p.Transaction?.Connection is not null)
            {
                if (async)
                {
                    await p.Transaction.RollbackAsync(CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    p.Transaction.Rollback();
                }
            }
        }
        catch (Exception e) when (e is DbException or InvalidOperationException or IOException or TimeoutException)
        {
            discard = true;
        }

        p.State = BranchState.RolledBack;
        await p.ReleaseAsync(io, discard).ConfigureAwait(false);
    }

    private async ValueTask RollbackAsync(IOBehavior io)
    {
        ThrowIfNotActive("roll back");
        _state = State.Completing;
        foreach (var p in _participants)
        {
            p.Session!.Unenlist();
        }

        await Fanout.RunAsync(_participants.Length, (i, branchIo) => RollbackQuietlyAsync(_participants[i], branchIo), io).ConfigureAwait(false);
        _coordinator.MarkDecided(Id);
        _results = [.. _participants.Select(p => p.ToResult())];
        _state = State.RolledBack;
        SwitchboardTelemetry.RecordDistributedTransaction(OutcomeName(DistributedOutcome.RolledBack), Databases);
    }

    private async ValueTask DisposeAsync(IOBehavior io)
    {
        if (_state == State.Active)
        {
            await RollbackAsync(io).ConfigureAwait(false);
            return;
        }

        if (_state == State.Completing)
        {
            // The protocol was interrupted by something unexpected: leave every branch as it is (recovery settles prepared
            // ones) and discard the connections, so the server rolls back whatever was not prepared.
            foreach (var p in _participants)
            {
                p.Session?.Unenlist();
                await p.ReleaseAsync(io, discard: true).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask FinishAsync(IOBehavior io)
    {
        foreach (var p in _participants)
        {
            await p.ReleaseAsync(io, discard: p.State is BranchState.InDoubt or BranchState.Unknown).ConfigureAwait(false);
        }

        _results = [.. _participants.Select(p => p.ToResult())];
    }

    private DistributedTransactionException Failure(DistributedOutcome outcome, string reason, Exception? cause) =>
        new(Id, outcome, _results ?? [.. _participants.Select(p => p.ToResult())], reason, cause,
            [.. _participants.SelectMany(p => p.Engine.Definition.Secrets)]);

    private void ThrowIfNotActive(string operation)
    {
        if (_state != State.Active)
        {
            throw new InvalidOperationException($"Cannot {operation} distributed transaction {Id}: it has already {(_state == State.Committed ? "committed" : _state == State.RolledBack ? "rolled back" : "begun to complete")}.");
        }
    }

    private static string Names(IEnumerable<Participant> participants) => string.Join(", ", participants.Select(p => "'" + p.Database + "'"));

    [LoggerMessage(EventId = 4010, Level = LogLevel.Warning, Message = "Distributed transaction {TransactionId} committed; not yet told, in doubt until reachable: {Databases}")]
    private static partial void LogInDoubt(ILogger logger, string transactionId, string databases);
}
