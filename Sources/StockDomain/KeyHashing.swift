/// Fast hashing for the fold's hottest dictionary keys.
///
/// Dictionary lookups were half of the fold's time, most of it in `Hasher` (SipHash), which
/// defends against hash flooding by untrusted keys. These keys are Katana and WooCommerce ids
/// and store slugs from the merchant's own systems, so a multiply-xorshift mix of the key,
/// salted with the dictionary's per-instance seed, is enough. `Hashable` lets a type supply
/// this raw hash; `hash(into:)` stays the standard one for every other use.
@inline(__always)
func mixHash(_ x: UInt64) -> Int {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return Int(truncatingIfNeeded: z ^ (z >> 32))
}

extension CellKey {
    public func _rawHashValue(seed: Int) -> Int {
        mixHash(UInt64(bitPattern: Int64(mixHash(UInt64(bitPattern: variant) ^ UInt64(bitPattern: Int64(seed))))) ^ UInt64(bitPattern: location))
    }
}

extension DocumentKey {
    public func _rawHashValue(seed: Int) -> Int {
        mixHash(UInt64(bitPattern: id) &+ UInt64(kind.rawValue) << 56 ^ UInt64(bitPattern: Int64(seed)))
    }
}

extension ProductKey {
    public func _rawHashValue(seed: Int) -> Int {
        // Store slugs are short: folding their bytes costs less than one SipHash round.
        var h = UInt64(bitPattern: Int64(seed)) ^ UInt64(bitPattern: wooID)
        for byte in store.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return mixHash(h)
    }
}
