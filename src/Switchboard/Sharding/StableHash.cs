namespace Switchboard.Sharding;

/// <summary>
/// The hash strategy's arithmetic, fixed forever: changing any constant here would move every key to another shard.
/// FNV-1a (64-bit) of the key's canonical bytes, finalised with MurmurHash3's fmix64 so that nearby keys spread over
/// all 64 bits, then jump consistent hash (Lamping and Veach, 2014) to pick one of n buckets. Nothing here depends on
/// the process (unlike <see cref="string.GetHashCode()"/>, which is randomised per process).
/// </summary>
internal static class StableHash
{
    private const ulong FnvOffsetBasis = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;

    /// <summary>FNV-1a, 64-bit.</summary>
    public static ulong Fnv1a64(ReadOnlySpan<byte> bytes)
    {
        var hash = FnvOffsetBasis;
        foreach (var b in bytes)
        {
            hash ^= b;
            hash *= FnvPrime;
        }

        return hash;
    }

    /// <summary>MurmurHash3's 64-bit finaliser: every input bit affects every output bit.</summary>
    public static ulong Mix(ulong k)
    {
        k ^= k >> 33;
        k *= 0xff51afd7ed558ccd;
        k ^= k >> 33;
        k *= 0xc4ceb9fe1a85ec53;
        k ^= k >> 33;
        return k;
    }

    /// <summary>
    /// Jump consistent hash: maps a 64-bit key to a bucket in [0, buckets). Growing from n to n+1 buckets moves a key
    /// only to the new bucket n, and moves about 1/(n+1) of all keys.
    /// </summary>
    public static int JumpConsistentHash(ulong key, int buckets)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(buckets, 1);
        long b = -1, j = 0;
        while (j < buckets)
        {
            b = j;
            key = unchecked((key * 2862933555777941757UL) + 1);
            j = (long)((b + 1) * ((double)(1L << 31) / ((key >> 33) + 1)));
        }

        return (int)b;
    }

    /// <summary>The 64-bit hash of a shard key: Mix(FNV-1a-64(canonical bytes)).</summary>
    public static ulong Hash(in ShardKey key)
    {
        var length = key.CanonicalLength;
        if (length <= 256)
        {
            Span<byte> buffer = stackalloc byte[length];
            key.WriteCanonicalBytes(buffer);
            return Mix(Fnv1a64(buffer));
        }

        var heap = new byte[length];
        key.WriteCanonicalBytes(heap);
        return Mix(Fnv1a64(heap));
    }

    /// <summary>The shard index of a key among <paramref name="shards"/> shards.</summary>
    public static int Bucket(in ShardKey key, int shards) => JumpConsistentHash(Hash(key), shards);
}
