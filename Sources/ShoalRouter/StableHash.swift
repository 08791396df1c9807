/// A 64-bit hash that is the same in every process and on every run (Swift's `Hasher` is seeded per
/// process, so it cannot place keys on a ring that several routers or restarts must agree on).
///
/// FNV-1a over the UTF-8 bytes, then the murmur3 `fmix64` finalizer so nearby inputs ("replica#1",
/// "replica#2") land far apart.
public enum StableHash {
    /// The hash of `text`'s UTF-8 bytes.
    public static func hash(_ text: String) -> UInt64 {
        hash(bytes: text.utf8)
    }

    /// The hash of `bytes`, optionally continuing from `seed` (chained hashes of successive blocks).
    public static func hash(bytes: some Sequence<UInt8>, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var state = seed
        for byte in bytes {
            state ^= UInt64(byte)
            state &*= 0x0000_0100_0000_01b3
        }
        return mix(state)
    }

    /// murmur3's 64-bit finalizer: every input bit affects every output bit.
    public static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xff51_afd7_ed55_8ccd
        x ^= x >> 33
        x &*= 0xc4ce_b9fe_1a85_ec53
        x ^= x >> 33
        return x
    }
}
