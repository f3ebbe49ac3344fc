namespace Switchboard.Tests.Rig;

/// <summary>
/// Test classes that count the SQLite files this process holds open and expect some to stay open. They run alone, after
/// the parallel classes: several of those end with <c>SqliteConnection.ClearAllPools()</c>, which closes every idle pooled
/// SQLite connection in the process, other classes' included, and a count taken at that moment reads 0.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OpenFilesCollection
{
    public const string Name = "open SQLite files";
}
