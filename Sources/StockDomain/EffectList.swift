/// A document's frozen effects, packed the way journal payloads are (zigzag varints; a
/// quantity as fraction digits and mantissa): about 6 bytes an effect where `[Effect]` takes
/// 48, in one small allocation per document, and the very bytes the `documents` table stores.
///
/// The fold keeps a record per document for as long as the document exists, so this is most
/// of what it holds and what replay writes at the end; reverting reads it once, in order.
public struct EffectList: Equatable, Sendable, Sequence {
    public private(set) var packed: [UInt8]

    public init() { packed = [] }

    public init(_ effects: some Sequence<Effect>) {
        // Room for typical effects up front (small ids, short quantities): growing the array
        // from empty took two or three reallocations per document snapshot.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(effects.underestimatedCount * 8)
        var w = BinaryPayload.Writer(bytes: bytes)
        for e in effects { w.effect(e) }
        packed = w.bytes
    }

    /// Effects already packed by this module's own writer, copied to storage of their own size
    /// (the writer's may be larger, and a record keeps its storage as long as the document).
    init(trusted bytes: [UInt8]) { packed = bytes.withUnsafeBufferPointer { Array($0) } }

    /// Replaces the effects with ones already packed, rewriting the bytes in place when their
    /// storage is not shared.
    mutating func replace(packed bytes: [UInt8]) {
        packed.removeAll(keepingCapacity: true)
        packed.append(contentsOf: bytes)
    }

    /// Appends the packed bytes to `bytes`.
    public func appendPacked(to bytes: inout [UInt8]) { bytes.append(contentsOf: packed) }

    /// Stored bytes, checked: nil unless they are a whole number of well-formed effects.
    public init?(packed bytes: UnsafeRawBufferPointer) {
        var r = BinaryPayload.Reader(bytes: bytes)
        while r.offset < bytes.count {
            do { _ = try r.effect() } catch { return nil }
        }
        packed = Array(bytes)
    }

    public var isEmpty: Bool { packed.isEmpty }

    public struct Iterator: IteratorProtocol {
        let packed: [UInt8]
        var offset = 0

        public mutating func next() -> Effect? {
            guard offset < packed.count else { return nil }
            let start = offset
            let decoded: (Effect, Int)? = packed.withUnsafeBytes { raw in
                var r = BinaryPayload.Reader(bytes: raw, offset: start)
                guard let e = try? r.effect() else { return nil }
                return (e, r.offset)
            }
            // Only checked bytes get here (both initialisers), so a failure is not expected;
            // stopping is still better than trapping.
            guard let (effect, end) = decoded else { offset = packed.count; return nil }
            offset = end
            return effect
        }
    }

    public func makeIterator() -> Iterator { Iterator(packed: packed) }

    /// Calls `body` with each effect packed in `bytes`, read in place: no iterator, no copy.
    static func forEach(in bytes: UnsafeRawBufferPointer, _ body: (Effect) throws(EventError) -> Void) throws(EventError) {
        var r = BinaryPayload.Reader(bytes: bytes)
        while r.offset < bytes.count { try body(try r.effect()) }
    }

    static func forEach(in packed: [UInt8], _ body: (Effect) throws(EventError) -> Void) throws(EventError) {
        // `Array.withUnsafeBytes` rethrows untyped errors: the typed one is carried out by hand.
        var failure: EventError? = nil
        packed.withUnsafeBytes { raw in
            do throws(EventError) { try forEach(in: raw, body) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

extension BinaryPayload.Writer {
    mutating func effect(_ e: Effect) {
        int(e.cell.variant)
        int(e.cell.location)
        byte(e.field.rawValue)
        quantity(e.amount)
    }
}

extension BinaryPayload.Reader {
    mutating func effect() throws(EventError) -> Effect {
        let variant = try int()
        let location = try int()
        guard let field = EffectField(rawValue: try byte()) else { throw EventError(field: nil, "effect has an unknown field") }
        return Effect(CellKey(variant, location), field, try quantity())
    }
}
