using System.Text.Json.Serialization;

namespace Switchboard.Reflection;

/// <summary>
/// What one database holds, as reflected at one moment: its schemas with their tables, views, enum types and domains.
/// The same model for every dialect. Immutable; names are sorted (ordinal), columns are in their ordinal order.
/// Serialise it with <see cref="SchemaJson"/>; compare two with <see cref="SchemaDiff.Compare"/>.
/// </summary>
public sealed record DatabaseSchema
{
    /// <summary>The configured name of the database (as in the catalog).</summary>
    public required string Database { get; init; }

    /// <summary>The dialect's canonical name: <c>postgresql</c>, <c>mysql</c>, <c>sqlite</c>.</summary>
    public required string Dialect { get; init; }

    public string? ServerVersion { get; init; }

    /// <summary>The schema unqualified names resolve to: <c>public</c> (PostgreSQL), the current database (MySQL), <c>main</c> (SQLite).</summary>
    public string? DefaultSchema { get; init; }

    public IReadOnlyList<SchemaInfo> Schemas { get; init; } = [];

    /// <summary>How the reflection went (query count, time). Not part of the JSON form.</summary>
    [JsonIgnore]
    public ReflectionStatistics? Statistics { get; init; }

    /// <summary>Every table of every schema.</summary>
    [JsonIgnore]
    public IEnumerable<TableInfo> AllTables => Schemas.SelectMany(s => s.Tables);

    /// <summary>The schema with this exact name, or null.</summary>
    public SchemaInfo? FindSchema(string name) => Schemas.FirstOrDefault(s => s.Name == name);

    /// <summary>A table by exact name, in <paramref name="schema"/> (default: the default schema, else the only schema).</summary>
    public TableInfo? FindTable(string name, string? schema = null) => ResolveSchema(schema)?.FindTable(name);

    /// <summary>A view by exact name, in <paramref name="schema"/> (default: the default schema, else the only schema).</summary>
    public ViewInfo? FindView(string name, string? schema = null) => ResolveSchema(schema)?.FindView(name);

    private SchemaInfo? ResolveSchema(string? schema) => schema is not null
        ? FindSchema(schema)
        : (DefaultSchema is { } d ? FindSchema(d) : null) ?? (Schemas.Count == 1 ? Schemas[0] : null);

    public override string ToString() => $"{Database} ({Dialect}): {Schemas.Count} schema(s), {AllTables.Count()} table(s)";
}

/// <summary>One schema (PostgreSQL schema, MySQL database, SQLite main or attached database).</summary>
public sealed record SchemaInfo
{
    public required string Name { get; init; }

    public IReadOnlyList<TableInfo> Tables { get; init; } = [];

    /// <summary>Views and materialized views.</summary>
    public IReadOnlyList<ViewInfo> Views { get; init; } = [];

    /// <summary>Enum types (PostgreSQL); MySQL enums are column types and appear there.</summary>
    public IReadOnlyList<EnumInfo> Enums { get; init; } = [];

    /// <summary>Domains (PostgreSQL).</summary>
    public IReadOnlyList<DomainInfo> Domains { get; init; } = [];

    public TableInfo? FindTable(string name) => Tables.FirstOrDefault(t => t.Name == name);

    public ViewInfo? FindView(string name) => Views.FirstOrDefault(v => v.Name == name);

    public override string ToString() => $"{Name}: {Tables.Count} table(s), {Views.Count} view(s)";
}

/// <summary>A table with its columns, keys, constraints and indexes.</summary>
public sealed record TableInfo
{
    public required string Name { get; init; }

    public string? Comment { get; init; }

    /// <summary>In ordinal order.</summary>
    public IReadOnlyList<ColumnInfo> Columns { get; init; } = [];

    public PrimaryKeyInfo? PrimaryKey { get; init; }

    public IReadOnlyList<ForeignKeyInfo> ForeignKeys { get; init; } = [];

    public IReadOnlyList<UniqueConstraintInfo> UniqueConstraints { get; init; } = [];

    public IReadOnlyList<CheckConstraintInfo> CheckConstraints { get; init; } = [];

    /// <summary>
    /// Indexes. Those that only back a primary key or unique constraint are left out unless
    /// <see cref="ReflectionOptions.IncludeConstraintIndexes"/> is set.
    /// </summary>
    public IReadOnlyList<IndexInfo> Indexes { get; init; } = [];

    public ColumnInfo? FindColumn(string name) => Columns.FirstOrDefault(c => c.Name == name);

    public override string ToString() => $"{Name} ({Columns.Count} columns)";
}

/// <summary>A view or materialized view.</summary>
public sealed record ViewInfo
{
    public required string Name { get; init; }

    public bool Materialized { get; init; }

    /// <summary>The query text as the server gives it (PostgreSQL re-formats it; SQLite keeps it as written), or null.</summary>
    public string? Definition { get; init; }

    public IReadOnlyList<ColumnInfo> Columns { get; init; } = [];

    public string? Comment { get; init; }

    public ColumnInfo? FindColumn(string name) => Columns.FirstOrDefault(c => c.Name == name);

    public override string ToString() => (Materialized ? "materialized view " : "view ") + Name;
}

/// <summary>A column of a table or view.</summary>
public sealed record ColumnInfo
{
    public required string Name { get; init; }

    /// <summary>The type exactly as the database declares it: <c>character varying(20)</c>, <c>decimal(10,2)</c>, <c>int(11)</c>, an enum or domain name; empty for an untyped SQLite column.</summary>
    public required string Type { get; init; }

    public TypeFamily TypeFamily { get; init; }

    /// <summary>Maximum length of a string or binary type, when declared.</summary>
    public int? Length { get; init; }

    /// <summary>Precision of a decimal type, when declared.</summary>
    public int? Precision { get; init; }

    /// <summary>Scale of a decimal type, when declared.</summary>
    public int? Scale { get; init; }

    public bool Nullable { get; init; } = true;

    /// <summary>The default expression as the database stores it (<c>'new'::text</c>, <c>'new'</c>, <c>CURRENT_TIMESTAMP</c>), or null.</summary>
    public string? Default { get; init; }

    /// <summary>What the database writes into the column on every update of its row (MySQL/MariaDB <c>ON UPDATE CURRENT_TIMESTAMP</c>), or null.</summary>
    public string? OnUpdate { get; init; }

    /// <summary>
    /// Whether the database fills the column when an insert leaves it out: MySQL AUTO_INCREMENT, a PostgreSQL serial
    /// (a <c>nextval(…)</c> default), a SQLite <c>INTEGER PRIMARY KEY</c> (rowid alias, with or without AUTOINCREMENT).
    /// Identity columns are described by <see cref="Identity"/> instead.
    /// </summary>
    public bool AutoIncrement { get; init; }

    /// <summary>A SQL-standard identity column (PostgreSQL), or null.</summary>
    public IdentityInfo? Identity { get; init; }

    /// <summary>A generated (computed) column, or null.</summary>
    public GeneratedColumnInfo? Generated { get; init; }

    /// <summary>The column's collation when it differs from its type's default (PostgreSQL) or is declared (SQLite), or the column collation (MySQL).</summary>
    public string? Collation { get; init; }

    public string? Comment { get; init; }

    public override string ToString() => $"{Name} {Type}";
}

/// <summary>An identity column: <c>GENERATED ALWAYS AS IDENTITY</c> (<see cref="Always"/>) or <c>GENERATED BY DEFAULT AS IDENTITY</c>.</summary>
public sealed record IdentityInfo(bool Always, long? Start, long? Increment);

/// <summary>A generated column: its expression, and whether it is stored or computed when read (virtual).</summary>
public sealed record GeneratedColumnInfo(string Expression, bool Stored);

/// <summary>A primary key. <see cref="Name"/> is null where the database does not name it (MySQL, most SQLite tables).</summary>
public sealed record PrimaryKeyInfo(string? Name, IReadOnlyList<string> Columns);

/// <summary>A foreign key: columns in key order, referenced columns in the same order.</summary>
public sealed record ForeignKeyInfo
{
    /// <summary>The constraint name, or null where the database does not name it (an unnamed SQLite foreign key).</summary>
    public string? Name { get; init; }

    public required IReadOnlyList<string> Columns { get; init; }

    public string? ReferencedSchema { get; init; }

    public required string ReferencedTable { get; init; }

    public required IReadOnlyList<string> ReferencedColumns { get; init; }

    /// <summary><c>NO ACTION</c>, <c>RESTRICT</c>, <c>CASCADE</c>, <c>SET NULL</c> or <c>SET DEFAULT</c>.</summary>
    public string OnDelete { get; init; } = "NO ACTION";

    /// <inheritdoc cref="OnDelete"/>
    public string OnUpdate { get; init; } = "NO ACTION";

    public bool Deferrable { get; init; }

    public bool InitiallyDeferred { get; init; }

    public override string ToString() =>
        $"{Name ?? "(unnamed)"} ({string.Join(", ", Columns)}) → {ReferencedTable} ({string.Join(", ", ReferencedColumns)})";
}

/// <summary>A unique constraint (in MySQL and MariaDB, every unique index).</summary>
public sealed record UniqueConstraintInfo(string? Name, IReadOnlyList<string> Columns);

/// <summary>A check constraint with its expression as the database stores it.</summary>
public sealed record CheckConstraintInfo(string? Name, string Expression);

/// <summary>An index.</summary>
public sealed record IndexInfo
{
    public required string Name { get; init; }

    /// <summary>Key parts in order: a column or an expression, each with its sort order.</summary>
    public required IReadOnlyList<IndexColumnInfo> Columns { get; init; }

    public bool Unique { get; init; }

    /// <summary>The WHERE clause of a partial index, or null.</summary>
    public string? Predicate { get; init; }

    /// <summary>Whether the index exists to back a primary key or unique constraint (such indexes are listed only on request).</summary>
    public bool BacksConstraint { get; init; }

    public override string ToString() => $"{Name} ({string.Join(", ", Columns)})";
}

/// <summary>One key part of an index: a column (<see cref="Name"/>) or an expression (<see cref="Expression"/>).</summary>
public sealed record IndexColumnInfo(string? Name, string? Expression, bool Descending)
{
    public override string ToString() => (Name ?? Expression) + (Descending ? " DESC" : "");
}

/// <summary>An enum type and its values in sort order.</summary>
public sealed record EnumInfo(string Name, IReadOnlyList<string> Values);

/// <summary>A domain: a named base type with optional NOT NULL, default and checks.</summary>
public sealed record DomainInfo
{
    public required string Name { get; init; }

    /// <summary>The base type as declared.</summary>
    public required string Type { get; init; }

    public TypeFamily TypeFamily { get; init; }

    public int? Length { get; init; }

    public int? Precision { get; init; }

    public int? Scale { get; init; }

    public bool Nullable { get; init; } = true;

    public string? Default { get; init; }

    public IReadOnlyList<CheckConstraintInfo> CheckConstraints { get; init; } = [];
}

/// <summary>How a reflection went: how many queries it sent (the number does not grow with the number of tables) and how long it took.</summary>
public sealed record ReflectionStatistics(int QueryCount, TimeSpan Elapsed);
