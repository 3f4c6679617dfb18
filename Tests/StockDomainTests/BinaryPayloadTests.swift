@testable import StockDomain
import Testing

/// SPEC §3.1: the journal may store payloads in any encoding that round-trips exactly to the
/// interchange format. The engine stores `BinaryPayload`; export must not be able to tell.
@Suite("Binary journal payloads (SPEC §3.1)")
struct BinaryPayloadTests {
    func decode(_ bytes: [UInt8]) throws -> EventPayload {
        let result: Result<EventPayload, EventError> = bytes.withUnsafeBytes { raw in
            do throws(EventError) { return .success(try BinaryPayload.decode(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    static let extremes: [EventPayload] = [
        .inventoryReconciled(InventoryReconciliation(variantID: Int64.max, locationID: Int64.min,
                                                     inStock: Quantity.parse("-999999999999999.999999999")!)),
        .inventoryReconciled(InventoryReconciliation(variantID: 0, locationID: -1, inStock: Quantity.parse("0.000000001")!)),
        .wooStockAcknowledged(StockAcknowledgement(store: "é-shop ☃", wooID: 1, sent: Int64.min, echoed: Int64.max)),
        .storeReconfigured(StoreChange(store: "s")),
        .storeReconfigured(StoreChange(store: "s", url: "", locationID: 0, stockSync: false, katanaOrdersReduceStock: true, floorAtZero: false)),
        .wooProductUpserted(WooProduct(store: "s", wooID: 5)),
    ]

    @Test("every event type round-trips exactly: same payload, same canonical JSON")
    func roundTrip() throws {
        let payloads = try EventCodecTests.samples.map { try EventCodec.decodeLine($0).payload } + Self.extremes
        for payload in payloads {
            let bytes = BinaryPayload.encode(payload)
            let decoded = try decode(bytes)
            #expect(decoded == payload)
            #expect(EventCodec.encodeData(decoded) == EventCodec.encodeData(payload))
            #expect(bytes.withUnsafeBytes { BinaryPayload.type(of: $0) } == payload.type)
            #expect(bytes.withUnsafeBytes { BinaryPayload.isBinary($0) })
        }
    }

    @Test("a canonical JSON payload is never taken for a binary one")
    func jsonIsNotBinary() {
        for line in EventCodecTests.samples {
            let json = Array(EventCodec.encodeData(try! EventCodec.decodeLine(line).payload).utf8)
            #expect(!json.withUnsafeBytes { BinaryPayload.isBinary($0) })
        }
    }

    @Test("truncated, padded or foreign bytes are an error, never a crash")
    func corrupt() throws {
        for line in EventCodecTests.samples {
            let bytes = BinaryPayload.encode(try EventCodec.decodeLine(line).payload)
            for cut in 0..<bytes.count {
                let prefix = Array(bytes[..<cut])
                #expect(throws: EventError.self) { try decode(prefix) }
            }
            let padded = bytes + [0]
            #expect(throws: EventError.self) { try decode(padded) }
        }
        // The second layout is a resync's alone.
        var tagged = BinaryPayload.encode(.storeDisconnected("main"))
        tagged[1] |= 0x80
        #expect(throws: EventError.self) { try decode(tagged) }
        let foreign: [UInt8] = [BinaryPayload.format, 200, 1, 2]
        #expect(throws: EventError.self) { try decode(foreign) }
        let hugeCount: [UInt8] = [BinaryPayload.format, 2, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        #expect(throws: EventError.self) { try decode(hugeCount) }
    }

    @Test("document effects pack and unpack exactly (every field, extreme ids and quantities); cut or foreign bytes are refused")
    func effectLists() throws {
        let q = { (text: String) in Quantity.parse(text)! }
        let effects = [
            Effect(CellKey(1, 1), .inStock, q("5")),
            Effect(CellKey(Int64.max, Int64.min), .committedTotal, q("-0.000000001")),
            Effect(CellKey(-7, 0), .expected, q("999999999999999.999999999")),
            Effect(CellKey(42, 3), .committedSync, q("2.5").multiplied(by: q("0.333333333"))!),
            Effect(CellKey(42, 3), .committedSyncWooCommerce, .zero),
        ]
        let list = EffectList(effects)
        #expect(Array(list) == effects)
        // Mantissas on both sides of the 63 bits the reader decodes without 128-bit arithmetic.
        let boundaries: [Int128] = [0, 1, -1, 1 << 61, (1 << 62) - 1, 1 << 62, -(1 << 62), (1 << 62) + 1,
                                    Int128(Int64.max), Int128(Int64.min), Int128(Int64.max) + 1, Int128(Int64.min) - 1,
                                    Int128(UInt64.max) * 1_000, -Int128(UInt64.max) * 999]
        let extremes = boundaries.map { Effect(CellKey(1, 1), .inStock, Quantity(raw: $0)) }
        #expect(Array(EffectList(extremes)) == extremes)
        #expect(list.packed.count < effects.count * 12, "packed, not fixed-width")
        let reread = try #require(list.packed.withUnsafeBytes { EffectList(packed: $0) })
        #expect(reread == list && Array(reread) == effects)
        #expect(EffectList([]).isEmpty && Array(EffectList()) == [])
        // Rewritten in place, a list reads as the new effects; a copy sharing its bytes keeps the old ones.
        var rewritten = list
        rewritten.replace(packed: EffectList(effects.prefix(2)).packed)
        #expect(Array(rewritten) == Array(effects.prefix(2)) && Array(list) == effects)
        rewritten.replace(packed: list.packed)
        #expect(rewritten == list)
        // The stored bytes are the `documents` table's format: they change only with the schema.
        #expect(EffectList([Effect(CellKey(1, 2), .inStock, .zero), Effect(CellKey(1, 2), .expected, q("5"))]).packed
                == [2, 4, 0, 0, 0, 2, 4, 2, 0, 10])
        for cut in 1..<list.packed.count where list.packed[..<cut].withUnsafeBytes({ EffectList(packed: $0) }) != nil {
            // A cut may land between two effects; then it must read as exactly the effects before it.
            let prefix = try #require(list.packed[..<cut].withUnsafeBytes { EffectList(packed: $0) })
            #expect(effects.starts(with: Array(prefix)) && !Array(prefix).isEmpty)
        }
        #expect([UInt8]([2, 2, 9, 0, 2]).withUnsafeBytes { EffectList(packed: $0) } == nil, "unknown field")
        #expect([UInt8](repeating: 0, count: 33).withUnsafeBytes { EffectList(packed: $0) } == nil, "bytes that end inside an effect")
    }
}
