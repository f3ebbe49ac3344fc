using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Spectre.Console;

namespace Switchboard.Cli;

/// <summary>What every command shares: output, the --config option, and how the catalog is loaded.</summary>
public sealed class CliContext(IAnsiConsole console, TextWriter stdout, TextWriter stderr, string workingDirectory)
{
    /// <summary>The folder of the embedded default's SQLite files, relative to the working directory.</summary>
    public const string DefaultFolder = ".switchboard";

    public IAnsiConsole Console { get; } = console;

    /// <summary>Raw standard output, for --json and --csv (no markup).</summary>
    public TextWriter Out { get; } = stdout;

    public TextWriter Error { get; } = stderr;

    public string WorkingDirectory { get; } = workingDirectory;

    public Option<FileInfo?> ConfigOption { get; } = new("--config", "-c")
    {
        Description = "A switchboard.json file (default: ./switchboard.json, else the embedded SQLite default).",
        Recursive = true,
    };

    /// <summary>Where the configuration came from, for messages.</summary>
    public string ConfigurationSource { get; private set; } = "";

    /// <summary>
    /// Loads the catalog with its shard maps and tenant sets (the <c>Databases</c>, <c>Shards</c> and <c>Tenants</c>
    /// sections): --config FILE, else ./switchboard.json, else the embedded default (SQLite files in ./.switchboard,
    /// created on first run). Environment variables prefixed SWITCHBOARD_ override the file
    /// (SWITCHBOARD_Databases__orders__Url). Returns null after printing every problem when the configuration is invalid.
    /// </summary>
    public SwitchboardCatalog? LoadCatalog(ParseResult parse, Action<SwitchboardCatalogBuilder>? configure = null)
    {
        var file = parse.GetValue(ConfigOption);
        var path = file?.FullName;
        if (file is not null && !Path.IsPathRooted(file.ToString()))
        {
            path = Path.Combine(WorkingDirectory, file.ToString());
        }

        path ??= Path.Combine(WorkingDirectory, "switchboard.json");
        var builder = new ConfigurationBuilder();
        if (File.Exists(path))
        {
            builder.AddJsonFile(path, optional: false);
            ConfigurationSource = path;
        }
        else if (file is not null)
        {
            Error.WriteLine($"error: configuration file '{path}' not found");
            return null;
        }
        else
        {
            builder.AddInMemoryCollection(EmbeddedDefault());
            ConfigurationSource = "embedded default (SQLite in ./" + DefaultFolder + ")";
        }

        builder.AddEnvironmentVariables("SWITCHBOARD_");
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (InvalidDataException e)
        {
            // Where the JSON is broken: the reader's exception, somewhere inside, knows the line and position.
            var cause = e.InnerException;
            while (cause is not null and not System.Text.Json.JsonException)
            {
                cause = cause.InnerException;
            }

            var where = cause is System.Text.Json.JsonException { LineNumber: { } line, BytePositionInLine: { } column } json
                ? $" Line {line + 1}, position {column + 1}: {json.Message.Split(" LineNumber:")[0]}"
                : e.InnerException is { } inner ? " " + inner.Message : "";
            Error.WriteLine($"error: cannot read '{path}': {e.Message}{where}");
            return null;
        }

        // The sections the library reads: databases, and the shard maps and tenant sets built on them.
        var section = configuration.GetSection("Databases");
        var shards = configuration.GetSection("Shards");
        var tenants = configuration.GetSection("Tenants");
        if (!section.GetChildren().Any() && !tenants.GetChildren().Any())
        {
            Error.WriteLine($"error: {ConfigurationSource} has no \"Databases\" section (shape: {{ \"Databases\": {{ \"orders\": {{ \"Url\": \"postgresql://…\" }} }} }})");
            return null;
        }

        try
        {
            var catalog = SwitchboardCatalog.CreateBuilder();
            configure?.Invoke(catalog);
            catalog.AddConfiguration(section);
            if (shards.GetChildren().Any())
            {
                catalog.AddShardConfiguration(shards);
            }

            if (tenants.GetChildren().Any())
            {
                catalog.AddTenantConfiguration(tenants);
            }

            return catalog.Build();
        }
        catch (CatalogConfigurationException e)
        {
            Error.WriteLine($"error: {e.Message}");
            return null;
        }
    }

    /// <summary>
    /// An exception's message for the terminal. An <see cref="ArgumentException"/> from the library is about a value the
    /// user typed, so the "(Parameter 'tenantId')" that .NET appends for programmers is left off.
    /// </summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var message = exception.Message;
        if (exception is ArgumentException { ParamName: { } name })
        {
            var suffix = $" (Parameter '{name}')";
            if (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        return message;
    }

    private Dictionary<string, string?> EmbeddedDefault()
    {
        var folder = Path.Combine(WorkingDirectory, DefaultFolder);
        return new()
        {
            ["Databases:app:Url"] = "sqlite:///" + Path.Combine(folder, "app.db"),
            ["Databases:audit:Url"] = "sqlite:///" + Path.Combine(folder, "audit.db"),
        };
    }
}
