namespace Switchboard.Internal;

/// <summary>Suggests the closest known word for a typo ("ordres" → "orders").</summary>
internal static class Spelling
{
    public static string? Closest(string word, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var d = Distance(word.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (d < bestDistance)
            {
                bestDistance = d;
                best = candidate;
            }
        }

        // Only a near miss is worth suggesting.
        return best is not null && bestDistance <= Math.Max(1, word.Length / 3) ? best : null;
    }

    /// <summary>
    /// "No database named 'ordres' (did you mean 'orders'?). Configured: audit, orders." — the message every unknown-name
    /// error uses (databases, shard maps, tenant sets).
    /// </summary>
    public static string UnknownNameMessage(string kind, string name, IReadOnlyList<string> configured, string noneConfigured = "(none)")
    {
        var list = configured.Count == 0 ? noneConfigured : string.Join(", ", configured);
        var suggestion = Closest(name, configured);
        return suggestion is null
            ? $"No {kind} named '{name}'. Configured: {list}."
            : $"No {kind} named '{name}' (did you mean '{suggestion}'?). Configured: {list}.";
    }

    /// <summary>Optimal string alignment distance: a swap of two neighbours counts as one edit.</summary>
    internal static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
