using System.Diagnostics;
using Switchboard.Internal;

namespace Switchboard.Tenants;

/// <summary>
/// A cap on the physical connections held by many engines together (the tenants of one or more tenant sets).
/// <para>
/// A permit stands for one physical connection, in use <em>or idle in the driver's pool</em>: a driver pool keeps a
/// returned connection open, so releasing a permit on return would let the open count exceed the cap. An engine
/// therefore keeps its permits after use (<see cref="Account.Held"/>) and reuses them for its next checkouts. When a
/// checkout finds no free permit, the least recently returned engine with spare permits has its idle connections closed
/// (the dialect clears its pool) and gives them up; when none has spare permits, the checkout waits — bounded by the
/// tenant's checkout timeout, then <see cref="TenantConnectionLimitException"/>. Permits taken from an engine count as
/// open until its connections are closed, so the number of open connections never exceeds <see cref="Limit"/>.
/// </para>
/// </summary>
internal sealed class ConnectionLimiter : IDisposable
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Account> _spare = new();   // accounts holding permits they do not use; least recently returned first
    private readonly LinkedList<Waiter> _waiters = new();  // FIFO
    private int _free;
    private int _inUse;
    private int _peakOpen;
    private long _waits;
    private long _timeouts;
    private long _trims;
    private bool _disposed;

    public ConnectionLimiter(string name, int limit)
    {
        Name = name;
        Limit = limit;
        _free = limit;
    }

    /// <summary>The tenant set (or connection limit group) the limit belongs to, for messages.</summary>
    public string Name { get; }

    public int Limit { get; }

    public Account CreateAccount(string setName, string tenantId, TimeSpan checkoutTimeout) => new(this, setName, tenantId, checkoutTimeout);

    public (int Open, int InUse, int Peak, int Waiting, long Waits, long Timeouts, long Trims) Snapshot()
    {
        lock (_lock)
        {
            return (Limit - _free, _inUse, _peakOpen, _waiters.Count, _waits, _timeouts, _trims);
        }
    }

    private async ValueTask AcquireAsync(Account account, IOBehavior io, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var counted = false;
        while (true)
        {
            Account? victim = null;
            var reclaimed = 0;
            Waiter? waiter = null;
            lock (_lock)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                if (TryGrant(account))
                {
                    return;
                }

                if (_spare.First is { } first)
                {
                    victim = first.Value;
                    reclaimed = TakeSpare(victim);
                }
                else
                {
                    waiter = new Waiter(account);
                    waiter.Node = _waiters.AddLast(waiter);
                    if (!counted)
                    {
                        _waits++;
                        counted = true;
                    }
                }
            }

            if (victim is not null)
            {
                victim.CloseIdleConnections();
                lock (_lock)
                {
                    _free += reclaimed;
                    _trims++;
                    var granted = TryGrant(account);
                    GrantWaiters();
                    if (granted)
                    {
                        return;
                    }
                }

                continue;
            }

            var remaining = account.CheckoutTimeout - Stopwatch.GetElapsedTime(started);
            var task = waiter!.Completion.Task;
            bool completed;
            try
            {
                if (remaining <= TimeSpan.Zero)
                {
                    completed = false;
                }
                else if (io == IOBehavior.Synchronous)
                {
                    completed = task.Wait(remaining, cancellationToken);
                }
                else
                {
                    await task.WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
                    completed = true;
                }
            }
            catch (TimeoutException)
            {
                completed = false;
            }
            catch (OperationCanceledException)
            {
                if (!Withdraw(waiter) && task.Result)
                {
                    // Granted while being cancelled: give the permit back (it stays with the engine as spare).
                    Release(account);
                }

                throw;
            }

            if (completed || !Withdraw(waiter))
            {
                if (task.Result)
                {
                    return; // granted: the permit was counted for this engine by whoever granted it
                }

                ObjectDisposedException.ThrowIf(!waiter.Retry, this);
                continue; // woken to reclaim spare permits itself
            }

            lock (_lock)
            {
                _timeouts++;
            }

            throw new TenantConnectionLimitException(account.SetName, account.TenantId, Name, Limit, Stopwatch.GetElapsedTime(started));
        }
    }

    /// <summary>Removes a waiter that gave up; false when it had already been granted (or the limiter closed).</summary>
    private bool Withdraw(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Completion.Task.IsCompleted)
            {
                return false;
            }

            _waiters.Remove(waiter.Node!);
            waiter.Completion.TrySetResult(false);
            return true;
        }
    }

    private void Release(Account account)
    {
        var reclaimed = 0;
        lock (_lock)
        {
            account.InUse--;
            _inUse--;
            if (_disposed || account.Closed)
            {
                return;
            }

            // A waiter of the same engine takes the connection that was just returned: no physical work at all.
            for (var node = _waiters.First; node is not null; node = node.Next)
            {
                if (node.Value.Account == account)
                {
                    account.InUse++;
                    _inUse++;
                    _waiters.Remove(node);
                    node.Value.Completion.TrySetResult(true);
                    return;
                }
            }

            if (_waiters.Count == 0)
            {
                if (account.Held > account.InUse)
                {
                    MoveToSpareTail(account);
                }

                return;
            }

            // Others are waiting: this engine's idle connections are closed and their permits handed over.
            reclaimed = TakeSpare(account);
        }

        if (reclaimed > 0)
        {
            account.CloseIdleConnections();
            lock (_lock)
            {
                _free += reclaimed;
                _trims++;
                GrantWaiters();
            }
        }
    }

    /// <summary>
    /// Takes every permit of an engine that has no connection checked out, for eviction. False (and nothing changes)
    /// when a connection is checked out. The caller closes the engine, then calls <see cref="Return"/>.
    /// </summary>
    public bool TryClose(Account account, out int permits)
    {
        lock (_lock)
        {
            if (account.InUse > 0)
            {
                permits = 0;
                return false;
            }

            account.Closed = true;
            permits = TakeSpare(account);
            return true;
        }
    }

    /// <summary>Gives back permits whose connections are now closed.</summary>
    public void Return(int permits)
    {
        if (permits == 0)
        {
            return;
        }

        lock (_lock)
        {
            _free += permits;
            GrantWaiters();
        }
    }

    private bool TryGrant(Account account)
    {
        if (account.Held > account.InUse)
        {
            account.InUse++;
            _inUse++;
            if (account.Held == account.InUse && account.SpareNode is { } node)
            {
                _spare.Remove(node);
                account.SpareNode = null;
            }

            return true;
        }

        if (_free > 0)
        {
            _free--;
            account.Held++;
            account.InUse++;
            _inUse++;
            _peakOpen = Math.Max(_peakOpen, Limit - _free);
            return true;
        }

        return false;
    }

    private void GrantWaiters()
    {
        while (_waiters.First is { } node && TryGrant(node.Value.Account))
        {
            _waiters.RemoveFirst();
            node.Value.Completion.TrySetResult(true);
        }

        // Still waiting with nothing free but spare permits elsewhere: wake the first waiter to reclaim them itself.
        if (_waiters.First is { } first && _free == 0 && _spare.Count > 0)
        {
            _waiters.RemoveFirst();
            first.Value.Retry = true;
            first.Value.Completion.TrySetResult(false);
        }
    }

    /// <summary>Takes an account's unused permits (they stay counted as open until returned to <see cref="_free"/>).</summary>
    private int TakeSpare(Account account)
    {
        var spare = account.Held - account.InUse;
        account.Held = account.InUse;
        if (account.SpareNode is { } node)
        {
            _spare.Remove(node);
            account.SpareNode = null;
        }

        return spare;
    }

    private void MoveToSpareTail(Account account)
    {
        if (account.SpareNode is { } node)
        {
            _spare.Remove(node);
        }

        account.SpareNode = _spare.AddLast(account);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var waiter in _waiters)
            {
                waiter.Completion.TrySetResult(false);
            }

            _waiters.Clear();
        }
    }

    /// <summary>One engine's share of the limit; the engine's <see cref="IConnectionBudget"/>.</summary>
    internal sealed class Account(ConnectionLimiter limiter, string setName, string tenantId, TimeSpan checkoutTimeout) : IConnectionBudget
    {
        public string SetName { get; } = setName;

        public string TenantId { get; } = tenantId;

        public TimeSpan CheckoutTimeout { get; } = checkoutTimeout;

        /// <summary>Permits this engine holds: its open connections (checked out or idle in its pool), counted from above.</summary>
        public int Held { get; set; }

        /// <summary>Connections checked out right now.</summary>
        public int InUse { get; set; }

        public bool Closed { get; set; }

        public LinkedListNode<Account>? SpareNode { get; set; }

        public DatabaseEngine? Engine { get; set; }

        public ValueTask AcquireAsync(IOBehavior io, CancellationToken cancellationToken) => limiter.AcquireAsync(this, io, cancellationToken);

        public void Release() => limiter.Release(this);

        public void CloseIdleConnections()
        {
            if (Engine is not { } engine)
            {
                return;
            }

            try
            {
                engine.Dialect.ClearIdleConnections(engine.DataSource);
            }
            catch (ObjectDisposedException)
            {
                // Evicted meanwhile: disposing the engine closed its connections.
            }
        }
    }

    private sealed class Waiter(Account account)
    {
        public Account Account { get; } = account;

        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }

        /// <summary>Woken without a permit so that it reclaims spare permits itself.</summary>
        public bool Retry { get; set; }
    }
}
