using System.Data;

namespace Switchboard;

/// <summary>What a session intends to do; routing and the server's access mode follow it.</summary>
public enum SessionIntent
{
    /// <summary>Reads and writes, on the primary.</summary>
    ReadWrite,

    /// <summary>Reads only: the transaction is declared read-only, so the server rejects writes.</summary>
    ReadOnly,
}

/// <summary>Options of one session. Immutable; the defaults are a read-write session at the server's default isolation.</summary>
public sealed record SessionOptions
{
    public static SessionOptions Default { get; } = new();

    public static SessionOptions ReadOnly { get; } = new() { Intent = SessionIntent.ReadOnly };

    public SessionIntent Intent { get; init; } = SessionIntent.ReadWrite;

    /// <summary>The transaction's isolation level; <see cref="IsolationLevel.Unspecified"/> keeps the server's default.</summary>
    public IsolationLevel IsolationLevel { get; init; } = IsolationLevel.Unspecified;

    /// <summary>Overrides the database's default command timeout for helper methods.</summary>
    public TimeSpan? CommandTimeout { get; init; }

    /// <summary>
    /// The read-your-writes context of this session (instead of the ambient <see cref="ReadYourWritesContext.Current"/>):
    /// a read-write session records its commits in it; a read-only one reads only where those commits are visible.
    /// </summary>
    public ReadYourWritesContext? ReadYourWrites { get; init; }
}
