using Switchboard.AspNetCore.Tests.Contracts;

namespace Switchboard.AspNetCore.Tests.Sqlite;

/// <summary>The sample's embedded default: every database a SQLite file, no server.</summary>
public sealed class SampleOnSqliteTests : SampleContractTests
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "switchboard-sample-" + Guid.NewGuid().ToString("N")[..8]);

    protected override Task<(string Orders, string Legacy, string Audit)> DatabasesAsync() =>
        Task.FromResult(($"sqlite:///{_folder}/orders.db", $"sqlite:///{_folder}/legacy.db", $"sqlite:///{_folder}/audit.db"));

    protected override (string Orders, string Legacy, string Audit) Dialects => ("sqlite", "sqlite", "sqlite");

    protected override IReadOnlyList<string> Secrets => [];

    // Two SQLite files cannot both prepare: the sample commits best-effort and says so.
    protected override string ExpectedProtocol => "best-effort";
}
