using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Switchboard.Sharding;

/// <summary>What a shard key is made of; it decides the key's canonical bytes and how keys compare.</summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Each kind is named after the type of key it holds.")]
public enum ShardKeyKind
{
    /// <summary>A whole number (any .NET integer type up to 64 bits).</summary>
    Integer,

    /// <summary>A string, compared and hashed ordinally (case-sensitive) as UTF-8.</summary>
    String,

    /// <summary>A <see cref="System.Guid"/>, hashed as its 16 bytes in RFC 4122 (big-endian) order.</summary>
    Guid,

    /// <summary>Raw bytes.</summary>
    Bytes,
}

/// <summary>
/// A shard key: a whole number, a string, a GUID or bytes. Converts implicitly from <see cref="long"/>, <see cref="int"/>,
/// <see cref="string"/> and <see cref="System.Guid"/>, so <c>map.ForKey(42)</c> and <c>map.ForKey("acme")</c> read
/// naturally. Its <em>canonical bytes</em> — the input of the hash strategy — are fixed by this type and never depend on
/// the process, the machine or the .NET version: an integer is its 8 bytes little-endian (so <c>42</c> and
/// <c>42L</c> are the same key), a string its UTF-8 bytes, a GUID its RFC 4122 bytes.
/// </summary>
public readonly struct ShardKey : IEquatable<ShardKey>, IComparable<ShardKey>
{
    private readonly long _integer;
    private readonly object? _reference; // string or byte[]
    private readonly Guid _guid;

    private ShardKey(ShardKeyKind kind, long integer, object? reference, Guid guid)
    {
        Kind = kind;
        _integer = integer;
        _reference = reference;
        _guid = guid;
    }

    public ShardKeyKind Kind { get; }

    /// <summary>The key as a value for a SQL parameter: <see cref="long"/>, <see cref="string"/>, <see cref="System.Guid"/> or <see cref="byte"/>[].</summary>
    public object Value => Kind switch
    {
        ShardKeyKind.Integer => _integer,
        ShardKeyKind.Guid => _guid,
        _ => _reference ?? string.Empty,
    };

    public static ShardKey FromInt64(long value) => new(ShardKeyKind.Integer, value, null, default);

    public static ShardKey FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(ShardKeyKind.String, 0, value, default);
    }

    public static ShardKey FromGuid(Guid value) => new(ShardKeyKind.Guid, 0, null, value);

    public static ShardKey FromBytes(ReadOnlySpan<byte> value) => new(ShardKeyKind.Bytes, 0, value.ToArray(), default);

    /// <summary>Converts a boxed key (a .NET integer type, string, GUID or byte array); anything else is refused.</summary>
    public static ShardKey From(object value) => value switch
    {
        ShardKey k => k,
        long l => FromInt64(l),
        int i => FromInt64(i),
        short s => FromInt64(s),
        sbyte b => FromInt64(b),
        byte b => FromInt64(b),
        ushort u => FromInt64(u),
        uint u => FromInt64(u),
        ulong u => FromInt64(unchecked((long)u)),
        string s => FromString(s),
        Guid g => FromGuid(g),
        byte[] bytes => FromBytes(bytes),
        null => throw new ArgumentNullException(nameof(value)),
        _ => throw new ArgumentException(
            $"A shard key must be a whole number, a string, a Guid or a byte array; {value.GetType().Name} is none of these.", nameof(value)),
    };

    public static implicit operator ShardKey(long value) => FromInt64(value);

    public static implicit operator ShardKey(int value) => FromInt64(value);

    public static implicit operator ShardKey(string value) => FromString(value);

    public static implicit operator ShardKey(Guid value) => FromGuid(value);

    /// <summary>The number of bytes <see cref="WriteCanonicalBytes"/> writes.</summary>
    internal int CanonicalLength => Kind switch
    {
        ShardKeyKind.Integer => 8,
        ShardKeyKind.Guid => 16,
        ShardKeyKind.String => Encoding.UTF8.GetByteCount((string)_reference!),
        _ => ((byte[])_reference!).Length,
    };

    /// <summary>Writes the key's canonical bytes (see the type's remarks) and returns how many were written.</summary>
    internal int WriteCanonicalBytes(Span<byte> destination)
    {
        switch (Kind)
        {
            case ShardKeyKind.Integer:
                BinaryPrimitives.WriteInt64LittleEndian(destination, _integer);
                return 8;
            case ShardKeyKind.Guid:
                _guid.TryWriteBytes(destination, bigEndian: true, out var written);
                return written;
            case ShardKeyKind.String:
                return Encoding.UTF8.GetBytes((string)_reference!, destination);
            default:
                ((byte[])_reference!).CopyTo(destination);
                return ((byte[])_reference!).Length;
        }
    }

    public bool Equals(ShardKey other) => Kind == other.Kind && Kind switch
    {
        ShardKeyKind.Integer => _integer == other._integer,
        ShardKeyKind.Guid => _guid == other._guid,
        ShardKeyKind.String => string.Equals((string?)_reference, (string?)other._reference, StringComparison.Ordinal),
        _ => ((byte[])_reference!).AsSpan().SequenceEqual((byte[])other._reference!),
    };

    public override bool Equals(object? obj) => obj is ShardKey other && Equals(other);

    public override int GetHashCode() => Kind switch
    {
        ShardKeyKind.Integer => _integer.GetHashCode(),
        ShardKeyKind.Guid => _guid.GetHashCode(),
        ShardKeyKind.String => StringComparer.Ordinal.GetHashCode((string)_reference!),
        _ => ((byte[])_reference!).Length,
    };

    /// <summary>Orders keys of the same kind (integers numerically, strings ordinally, GUIDs and bytes by their bytes).</summary>
    public int CompareTo(ShardKey other)
    {
        if (Kind != other.Kind)
        {
            throw new ArgumentException($"Cannot compare a {Kind} shard key with a {other.Kind} shard key.", nameof(other));
        }

        return Kind switch
        {
            ShardKeyKind.Integer => _integer.CompareTo(other._integer),
            ShardKeyKind.String => string.CompareOrdinal((string)_reference!, (string)other._reference!),
            ShardKeyKind.Guid => _guid.CompareTo(other._guid),
            _ => ((byte[])_reference!).AsSpan().SequenceCompareTo((byte[])other._reference!),
        };
    }

    public static bool operator ==(ShardKey left, ShardKey right) => left.Equals(right);

    public static bool operator !=(ShardKey left, ShardKey right) => !left.Equals(right);

    public static bool operator <(ShardKey left, ShardKey right) => left.CompareTo(right) < 0;

    public static bool operator <=(ShardKey left, ShardKey right) => left.CompareTo(right) <= 0;

    public static bool operator >(ShardKey left, ShardKey right) => left.CompareTo(right) > 0;

    public static bool operator >=(ShardKey left, ShardKey right) => left.CompareTo(right) >= 0;

    public override string ToString() => Kind switch
    {
        ShardKeyKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        ShardKeyKind.Guid => _guid.ToString(),
        ShardKeyKind.String => (string)_reference!,
        _ => "0x" + Convert.ToHexString((byte[])_reference!),
    };
}
