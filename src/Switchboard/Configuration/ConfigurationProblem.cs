namespace Switchboard;

/// <summary>One problem found in the configuration of a named database.</summary>
/// <param name="Database">The database's name as configured (empty when the problem concerns the whole section).</param>
/// <param name="Key">The configuration key at fault (for example <c>Url</c> or <c>Pool:MaxSize</c>).</param>
/// <param name="Message">What is wrong, with any password masked.</param>
public sealed record ConfigurationProblem(string Database, string Key, string Message)
{
    public override string ToString() => Database.Length == 0 ? $"{Key}: {Message}" : $"{Database}: {Key}: {Message}";
}

/// <summary>The catalog's configuration is invalid. Lists every problem found, each naming its database.</summary>
public sealed class CatalogConfigurationException : SwitchboardException
{
    public CatalogConfigurationException(IReadOnlyList<ConfigurationProblem> problems)
        : base(BuildMessage(problems))
    {
        Problems = problems;
    }

    public IReadOnlyList<ConfigurationProblem> Problems { get; }

    private static string BuildMessage(IReadOnlyList<ConfigurationProblem> problems) =>
        $"The database configuration has {problems.Count} problem{(problems.Count == 1 ? "" : "s")}:"
        + string.Concat(problems.Select(p => Environment.NewLine + "  - " + p));
}
