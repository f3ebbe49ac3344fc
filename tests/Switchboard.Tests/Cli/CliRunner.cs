using Switchboard.Cli;

namespace Switchboard.Tests.Cli;

/// <summary>Runs the switchboard command in-process in a working folder of its own.</summary>
public sealed class CliRunner : IDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "switchboard-cli-" + Guid.NewGuid().ToString("N")[..8]);

    public CliRunner() => Directory.CreateDirectory(Folder);

    public void WriteConfig(string json, string file = "switchboard.json") => File.WriteAllText(Path.Combine(Folder, file), json);

    public async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var exit = await SwitchboardCli.InvokeAsync(args, stdout, stderr, Folder);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(Folder, recursive: true);
    }
}
