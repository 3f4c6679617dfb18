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
        // The id alone: equal keys must hash alike, and store ids are compared as Swift strings,
        // where canonically equivalent spellings ("é" as one scalar or as e + U+0301) are equal
        // though their bytes, and byte counts, differ. Equal ids of a merchant's few stores only
        // collide, and equality still tells them apart.
        mixHash(UInt64(bitPattern: wooID) ^ UInt64(bitPattern: Int64(seed)))
    }
}

/// A variant id as a key of the fold's own tables (match memo, kit recipes), hashed like the
/// keys above: `Int64`'s own hash is SipHash.
struct VariantKey: Hashable {
    var id: VariantID
    init(_ id: VariantID) { self.id = id }
    func _rawHashValue(seed: Int) -> Int { mixHash(UInt64(bitPattern: id) ^ UInt64(bitPattern: Int64(seed))) }
}

/// A store slot and a variant: the key of the fold's match memo.
struct MatchMemoKey: Hashable {
    var slot: Int
    var variant: VariantID
    func _rawHashValue(seed: Int) -> Int {
        mixHash(UInt64(bitPattern: variant) &+ UInt64(truncatingIfNeeded: slot) << 56 ^ UInt64(bitPattern: Int64(seed)))
    }
}
