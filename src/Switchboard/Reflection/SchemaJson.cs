using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Switchboard.Reflection;

/// <summary>
/// The documented, stable JSON form of a reflected database and of a schema diff (docs/reflection.md): camelCase keys in
/// a fixed order, every key present (null when there is nothing), enum values as camelCase strings, non-ASCII text
/// unescaped. A serialised schema reads back into an equal model, so a snapshot file can stand in for a database.
/// </summary>
public static class SchemaJson
{
    private static readonly SchemaJsonContext Indented = new(new JsonSerializerOptions(SchemaJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = true,
    });

    private static readonly SchemaJsonContext Compact = new(new JsonSerializerOptions(SchemaJsonContext.Default.Options)
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = false,
    });

    /// <summary>One JSON object for the database.</summary>
    public static string Serialize(DatabaseSchema schema, bool indented = true)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return JsonSerializer.Serialize(schema, (indented ? Indented : Compact).DatabaseSchema);
    }

    /// <summary>Writes one JSON object for the database to a stream (UTF-8).</summary>
    public static Task SerializeAsync(Stream stream, DatabaseSchema schema, bool indented = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(schema);
        return JsonSerializer.SerializeAsync(stream, schema, (indented ? Indented : Compact).DatabaseSchema, cancellationToken);
    }

    /// <summary>Reads a database written by <see cref="Serialize(DatabaseSchema, bool)"/>. Throws <see cref="JsonException"/> for anything else.</summary>
    public static DatabaseSchema Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        return JsonSerializer.Deserialize(json, Indented.DatabaseSchema) ?? throw new JsonException("the JSON is null, not a database schema object");
    }

    /// <summary>One JSON object for a diff: both sides, the rules used, whether they are equal, and every difference.</summary>
    public static string Serialize(SchemaDiff diff, bool indented = true)
    {
        ArgumentNullException.ThrowIfNull(diff);
        return JsonSerializer.Serialize(diff, (indented ? Indented : Compact).SchemaDiff);
    }
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    RespectNullableAnnotations = true,
    AllowTrailingCommas = true,
    ReadCommentHandling = JsonCommentHandling.Skip)]
[JsonSerializable(typeof(DatabaseSchema))]
[JsonSerializable(typeof(SchemaDiff))]
internal sealed partial class SchemaJsonContext : JsonSerializerContext;
