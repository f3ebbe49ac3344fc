using System.Text.Json;
using Switchboard.Cli;

namespace Switchboard.Tests.Reflection;

/// <summary>Runs the switchboard command in-process in a folder of its own, with a switchboard.json naming the given databases.</summary>
public sealed class CliRunner : IDisposable
{
    public CliRunner(IReadOnlyDictionary<string, string> urls)
    {
        Folder = Path.Combine(Path.GetTempPath(), "switchboard-cli-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Folder);
        var databases = urls.ToDictionary(u => u.Key, u => new Dictionary<string, string> { ["Url"] = u.Value });
        File.WriteAllText(Path.Combine(Folder, "switchboard.json"), JsonSerializer.Serialize(new { Databases = databases }));
    }

    public string Folder { get; }

    public async Task<(int Exit, string Out, string Error)> RunAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await SwitchboardCli.InvokeAsync(args, stdout, stderr, Folder);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }
}
