using System.Text.Json.Serialization;

namespace Switchboard.Reflection;

/// <summary>
/// The differences between two reflected databases, of the same or of different dialects. <see cref="Compare"/> pairs
/// schemas, tables, views and columns by name and constraints and indexes by what they do; the rules are in
/// docs/reflection.md and in <see cref="DiffOptions"/>.
/// </summary>
public sealed record SchemaDiff
{
    public required DiffSide Left { get; init; }

    public required DiffSide Right { get; init; }

    /// <summary>Whether no difference was found.</summary>
    public bool Equal => Differences.Count == 0;

    /// <summary>The rules as applied (automatic choices resolved).</summary>
    public required DiffRules Rules { get; init; }

    /// <summary>Which schema of the left side was compared with which of the right.</summary>
    public required IReadOnlyList<SchemaPair> SchemaPairs { get; init; }

    /// <summary>Every difference, in schema, table, object order.</summary>
    public required IReadOnlyList<SchemaDifference> Differences { get; init; }

    /// <summary>Compares <paramref name="left"/> with <paramref name="right"/>.</summary>
    public static SchemaDiff Compare(DatabaseSchema left, DatabaseSchema right, DiffOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(left);
        ArgumentNullException.ThrowIfNull(right);
        return new SchemaComparer(left, right, options ?? DiffOptions.Default).Run();
    }

    public override string ToString() => Equal
        ? $"{Left.Database} and {Right.Database} are equal"
        : $"{Left.Database} and {Right.Database}: {Differences.Count} difference(s)";
}

/// <summary>How to compare. Immutable; <see cref="Default"/> suits both same-dialect drift checks and cross-dialect comparisons.</summary>
public sealed record DiffOptions
{
    public static DiffOptions Default { get; } = new();

    /// <summary>How column types are compared (default: <see cref="TypeComparison.Auto"/>).</summary>
    public TypeComparison Types { get; init; } = TypeComparison.Auto;

    /// <summary>How names of schemas, tables, views, columns and enums are paired (default: <see cref="NameMatching.Exact"/>).</summary>
    public NameMatching Names { get; init; } = NameMatching.Exact;

    /// <summary>
    /// Whether constraint and index names are compared: null (default) compares them only when both sides are the same
    /// dialect, since each dialect generates different names for unnamed constraints.
    /// </summary>
    public bool? CompareConstraintNames { get; init; }
}

/// <summary>How column types are compared.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<TypeComparison>))]
public enum TypeComparison
{
    /// <summary>Declared types when both sides are the same dialect, type families otherwise.</summary>
    [JsonStringEnumMemberName("auto")]
    Auto,

    /// <summary>Type family, plus length for strings and binaries and precision/scale for decimals.</summary>
    [JsonStringEnumMemberName("family")]
    Family,

    /// <summary>The declared type text (case and spacing ignored).</summary>
    [JsonStringEnumMemberName("exact")]
    Exact,
}

/// <summary>How object names are paired between the two sides.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<NameMatching>))]
public enum NameMatching
{
    /// <summary>Names must be equal.</summary>
    [JsonStringEnumMemberName("exact")]
    Exact,

    /// <summary>Names are equal ignoring case (<c>Customer</c> = <c>customer</c>).</summary>
    [JsonStringEnumMemberName("ignoreCase")]
    IgnoreCase,

    /// <summary>Names are equal ignoring case, underscores, hyphens and spaces (<c>InvoiceLine</c> = <c>invoice_line</c>).</summary>
    [JsonStringEnumMemberName("ignoreStyle")]
    IgnoreStyle,
}

/// <summary>One side of a diff.</summary>
public sealed record DiffSide(string Database, string Dialect, string? ServerVersion);

/// <summary>The rules a diff applied.</summary>
/// <param name="Types">Family or Exact (Auto resolved).</param>
/// <param name="Names">How names were paired.</param>
/// <param name="ConstraintNames">Whether constraint and index names were compared.</param>
/// <param name="SameDialect">Whether both sides are the same dialect (comments, collations and view definitions are compared only then).</param>
public sealed record DiffRules(TypeComparison Types, NameMatching Names, bool ConstraintNames, bool SameDialect);

/// <summary>A left schema compared with a right schema.</summary>
public sealed record SchemaPair(string Left, string Right);

/// <summary>Whether something is only on one side or on both but different.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DifferenceKind>))]
public enum DifferenceKind
{
    [JsonStringEnumMemberName("onlyInLeft")]
    OnlyInLeft,

    [JsonStringEnumMemberName("onlyInRight")]
    OnlyInRight,

    [JsonStringEnumMemberName("changed")]
    Changed,
}

/// <summary>What kind of object a difference is about.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SchemaObjectKind>))]
public enum SchemaObjectKind
{
    [JsonStringEnumMemberName("schema")]
    Schema,

    [JsonStringEnumMemberName("table")]
    Table,

    [JsonStringEnumMemberName("view")]
    View,

    [JsonStringEnumMemberName("column")]
    Column,

    [JsonStringEnumMemberName("primaryKey")]
    PrimaryKey,

    [JsonStringEnumMemberName("foreignKey")]
    ForeignKey,

    [JsonStringEnumMemberName("uniqueConstraint")]
    UniqueConstraint,

    [JsonStringEnumMemberName("checkConstraint")]
    CheckConstraint,

    [JsonStringEnumMemberName("index")]
    Index,

    [JsonStringEnumMemberName("enum")]
    Enum,

    [JsonStringEnumMemberName("domain")]
    Domain,
}

/// <summary>One difference.</summary>
/// <param name="Kind">Only on one side, or changed.</param>
/// <param name="ObjectKind">What it is about.</param>
/// <param name="Schema">The schema (the left one's name for a pair of schemas).</param>
/// <param name="Table">The table or view the object belongs to, or that is the object; null for schemas, enums and domains.</param>
/// <param name="Name">The column, constraint, index, enum or domain name (for unnamed constraints, a description such as <c>(a, b) → t</c>).</param>
/// <param name="Property">For <see cref="DifferenceKind.Changed"/>: what differs (<c>type</c>, <c>nullable</c>, <c>default</c>, <c>columns</c>, …).</param>
/// <param name="Left">The left value, or the object's description when it is only on the left.</param>
/// <param name="Right">The right value, or the object's description when it is only on the right.</param>
/// <param name="Message">A readable sentence.</param>
public sealed record SchemaDifference(
    DifferenceKind Kind,
    SchemaObjectKind ObjectKind,
    string Schema,
    string? Table,
    string? Name,
    string? Property,
    string? Left,
    string? Right,
    string Message)
{
    public override string ToString() => Message;
}
