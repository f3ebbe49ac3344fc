using Switchboard.Reflection;

namespace Switchboard.Dialects;

public abstract partial class Dialect
{
    /// <summary>Whether <see cref="ReflectAsync"/> is implemented.</summary>
    public virtual bool SupportsReflection => false;

    /// <summary>
    /// Reads the schemas, tables, views, columns, keys, constraints, indexes, enums and domains that
    /// <see cref="ReflectionContext.Options"/> asks for, through <see cref="ReflectionContext.QueryAsync"/>.
    /// Must send a fixed number of queries per object kind, never one per table, and must pass every identifier as a
    /// parameter or quote it. The engine fills in the database name, dialect and server version, sorts names, applies
    /// the index option and checks that requested schemas and tables exist; the hook may leave that to it.
    /// </summary>
    public virtual ValueTask<DatabaseSchema> ReflectAsync(ReflectionContext context) =>
        throw new NotSupportedException($"the {Name} dialect cannot reflect schemas");
}
