namespace Switchboard.Reflection;

/// <summary>A schema, table or view asked for by name does not exist in the database. Says what does.</summary>
public sealed class SchemaObjectNotFoundException : SwitchboardException
{
    internal SchemaObjectNotFoundException(string databaseName, string target, string kind, IReadOnlyList<string> missing, IReadOnlyList<string> available)
        : base(BuildMessage(databaseName, target, kind, missing, available), databaseName, null, null)
    {
        Missing = missing;
    }

    /// <summary>The names that were not found.</summary>
    public IReadOnlyList<string> Missing { get; }

    private static string BuildMessage(string database, string target, string kind, IReadOnlyList<string> missing, IReadOnlyList<string> available)
    {
        var names = string.Join(", ", missing.Select(m => "'" + m + "'"));
        var suggestions = missing.Select(m => Internal.Spelling.Closest(m, available)).Where(s => s is not null).Distinct().ToList();
        var hint = suggestions.Count > 0
            ? $" (did you mean {string.Join(", ", suggestions.Select(s => "'" + s + "'"))}?)"
            : available.Count is > 0 and <= 20 ? $" (available: {string.Join(", ", available)})" : "";
        return $"No {kind}{(missing.Count == 1 ? "" : "s")} {names} in database '{database}' ({target}){hint}.";
    }
}
