using System.CommandLine;
using System.Globalization;
using Switchboard.Sharding;

namespace Switchboard.Cli.Commands;

/// <summary>
/// Turns a key typed on the command line into a <see cref="ShardKey"/>. The kind matters: the integer 42 and the string
/// "42" hash to different shards, so <c>auto</c> (a whole number is an integer, a GUID a GUID, anything else a string)
/// can be overridden with <c>--key-type</c>, and every answer shows the kind it used.
/// </summary>
internal static class ShardKeyParser
{
    public static Option<string> CreateOption() => new("--key-type")
    {
        Description = "How to read keys: auto (whole number → integer, GUID → guid, else string), integer, string, guid or hex (bytes).",
        DefaultValueFactory = _ => "auto",
    };

    /// <summary>The key, or an error message naming the key and the kind asked for.</summary>
    public static (ShardKey Key, string? Error) Parse(string text, string kind)
    {
        switch (kind)
        {
            case "integer":
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i)
                    ? (ShardKey.FromInt64(i), null)
                    : (default, $"'{text}' is not a whole number (--key-type integer)");
            case "guid":
                return Guid.TryParse(text, out var g) ? (ShardKey.FromGuid(g), null) : (default, $"'{text}' is not a GUID (--key-type guid)");
            case "hex":
                var hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
                try
                {
                    return (ShardKey.FromBytes(Convert.FromHexString(hex)), null);
                }
                catch (FormatException)
                {
                    return (default, $"'{text}' is not hexadecimal bytes (--key-type hex)");
                }

            case "string":
                return (ShardKey.FromString(text), null);
            case "auto":
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? (ShardKey.FromInt64(n), null)
                    : Guid.TryParse(text, out var guid) ? (ShardKey.FromGuid(guid), null)
                    : (ShardKey.FromString(text), null);
            default:
                return (default, $"--key-type must be auto, integer, string, guid or hex (not '{kind}')");
        }
    }

    public static string KindName(ShardKey key) => key.Kind.ToString().ToLowerInvariant();
}
