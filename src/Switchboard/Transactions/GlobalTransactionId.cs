using System.Globalization;
using System.Text;

namespace Switchboard.Transactions;

/// <summary>
/// The id of one distributed transaction: <c>sb1.{coordinator}.{log}.{incarnation}.{sequence}[.L{decider}|.P{branches}]</c>,
/// for example <c>sb1.orders-api.3f9a2c7d1e0b.k2x9q1.00000005.P2</c>. The log id is random per coordinator log, so recovery
/// recognises exactly the transactions whose decisions its log holds and never touches another application's; the
/// incarnation tells one run of a process from another; <c>L{decider}</c> marks a transaction whose decision is recorded
/// inside its last resource (a hash of that database's name); <c>P{branches}</c> one whose decision is written into each of
/// its participants and which is committed once all of that many branches are prepared. No suffix: the decision is in the
/// coordinator log. At most 64 characters, so it fits MySQL's gtrid.
/// </summary>
internal readonly record struct GlobalTransactionId(string Coordinator, string LogId, string Incarnation, string Sequence, string? Decider,
    int? Branches = null)
{
    public const string Prefix = "sb1.";
    public const int MaxCoordinatorLength = 16;

    /// <summary>Digits of the sequence number (base 36): 36^8 transactions per process run.</summary>
    public const int SequenceWidth = 8;

    public override string ToString() =>
        $"{Prefix}{Coordinator}.{LogId}.{Incarnation}.{Sequence}"
        + (Decider is not null ? ".L" + Decider : Branches is { } n ? ".P" + n.ToString(CultureInfo.InvariantCulture) : "");

    public static bool TryParse(string text, out GlobalTransactionId id)
    {
        id = default;
        if (!text.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = text[Prefix.Length..].Split('.');
        if (parts.Length is not (4 or 5) || parts.Any(p => p.Length == 0))
        {
            return false;
        }

        if (parts.Length == 4)
        {
            id = new GlobalTransactionId(parts[0], parts[1], parts[2], parts[3], null);
            return true;
        }

        var suffix = parts[4];
        if (suffix[0] == 'L' && suffix.Length > 1)
        {
            id = new GlobalTransactionId(parts[0], parts[1], parts[2], parts[3], suffix[1..]);
            return true;
        }

        if (suffix[0] == 'P' && int.TryParse(suffix.AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var branches) && branches > 1)
        {
            id = new GlobalTransactionId(parts[0], parts[1], parts[2], parts[3], null, branches);
            return true;
        }

        return false;
    }

    /// <summary>Whether a name can be a coordinator name (it is written into every transaction id).</summary>
    public static bool IsValidCoordinator(string name) =>
        name.Length is > 0 and <= MaxCoordinatorLength && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>A coordinator name made from any text (the entry assembly's name by default).</summary>
    public static string SanitizeCoordinator(string? text)
    {
        var sb = new StringBuilder();
        foreach (var c in text ?? "")
        {
            if (sb.Length == MaxCoordinatorLength)
            {
                break;
            }

            sb.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-');
        }

        return sb.Length == 0 ? "app" : sb.ToString();
    }

    /// <summary>The short, stable tag of a last-resource database written into the ids of the transactions it decides.</summary>
    public static string DeciderTag(string databaseName)
    {
        // FNV-1a over the lower-case name: stable across processes and versions (string.GetHashCode is not).
        uint hash = 2166136261;
        foreach (var c in databaseName.ToLowerInvariant())
        {
            hash = (hash ^ c) * 16777619;
        }

        return hash.ToString("x8", CultureInfo.InvariantCulture);
    }

    public static string Base36(long value)
    {
        const string digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        if (value == 0)
        {
            return "0";
        }

        Span<char> buffer = stackalloc char[16];
        var i = buffer.Length;
        while (value > 0)
        {
            buffer[--i] = digits[(int)(value % 36)];
            value /= 36;
        }

        return new string(buffer[i..]);
    }
}
