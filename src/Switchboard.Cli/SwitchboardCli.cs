using System.CommandLine;
using Spectre.Console;
using Switchboard.Cli.Commands;

namespace Switchboard.Cli;

/// <summary>
/// The <c>switchboard</c> command. Callable in-process (tests) with its own output writers.
/// Exit codes: 0 success, 1 a database check or diff failed, 2 bad configuration or usage.
/// </summary>
public static class SwitchboardCli
{
    public const int Ok = 0;
    public const int Failed = 1;
    public const int UsageError = 2;

    public static async Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, string? workingDirectory = null,
        CancellationToken cancellationToken = default)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected)
        {
            console.Profile.Width = 200; // never wrap tables written to a file or a pipe
        }

        var context = new CliContext(console, stdout, stderr, workingDirectory ?? Directory.GetCurrentDirectory());
        var root = new RootCommand("Switchboard: check, query, inspect and recover the databases of an application, its shard maps and tenant databases.");
        root.Options.Add(context.ConfigOption);
        foreach (var command in Commands(context))
        {
            root.Subcommands.Add(command);
        }

        var parse = root.Parse(args);
        var exit = await parse.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }, cancellationToken).ConfigureAwait(false);

        // A command line that does not parse (an unknown command or option, a missing argument) is a usage error: exit 2,
        // so that scripts can tell it from a database that failed (1). System.CommandLine's own code for it is 1.
        return parse.Errors.Count > 0 && exit != Ok ? UsageError : exit;
    }

    /// <summary>Every subcommand; a feature adds its command here.</summary>
    private static IEnumerable<Command> Commands(CliContext context) =>
    [
        CheckCommand.Create(context),
        SqlCommand.Create(context),
        SchemaCommand.Create(context),
        DiffCommand.Create(context),
        RecoverCommand.Create(context),
        ShardsCommand.Create(context),
        TenantsCommand.Create(context),
    ];
}
