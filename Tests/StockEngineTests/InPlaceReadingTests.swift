import StockDomain
import StockSyncTesting
import Testing

/// Replay's reading thread and ingest's writing thread take document snapshots straight from
/// their journal bytes (`DocumentLedger.applyInPlace`) instead of decoding them first. That must
/// come out exactly as decoding would have, and every payload it cannot take must be left to
/// decoding.
@Suite("In-place reading of document snapshots (replay and ingest)")
struct InPlaceReadingTests {
    static func line(_ type: String, _ data: String) -> String {
        #"{"id":"t","type":"\#(type)","at":"2026-11-26T10:00:00Z","data":{\#(data)}}"#
    }

    static func payload(_ type: String, _ data: String) throws -> EventPayload {
        try EventCodec.decodeLine(line(type, data)).payload
    }

    /// Two ledgers run alike, as replay's reading thread (`defersNetting`) or as ingest's inline
    /// fold: one decodes every payload, the other reads in place where it can.
    struct Pair {
        var decoding = DocumentLedger(), inPlace = DocumentLedger()
        var decodingDocuments = InMemoryDocuments(), inPlaceDocuments = InMemoryDocuments()
        var takenInPlace = 0

        init(defersNetting: Bool = true) {
            decoding.defersNetting = defersNetting
            inPlace.defersNetting = defersNetting
        }

        /// Applies one payload both ways and checks they agree on the outcome, on what they hand
        /// the stock stage (the reverted and added effects, or the net change per cell) and on
        /// the records; the first difference ends the test, since every later event would differ
        /// too. Returns the outcome: "true" (a document event), "false", or the error.
        @discardableResult
        mutating func apply(_ payload: EventPayload, at position: Int64, _ note: @autoclosure () -> String) throws -> String {
            func outcome(_ body: () throws -> Bool) -> String {
                do { return String(try body()) } catch { return "error: \(error)" }
            }
            let bytes = BinaryPayload.encode(payload)
            let (start, inPlaceStart) = (decoding.deferred.count, inPlace.deferred.count)
            let decoded = outcome { try decoding.apply(payload, at: position, documents: &decodingDocuments) }
            let read = try bytes.withUnsafeBytes { try inPlace.applyInPlace($0, at: position, documents: &inPlaceDocuments) }
            let taken = read ? "true" : outcome { try inPlace.apply(payload, at: position, documents: &inPlaceDocuments) }
            if read { takenInPlace += 1 }
            try #require(taken == decoded, "\(note())")
            if decoding.defersNetting {
                try #require(Array(inPlace.deferred[inPlaceStart..<inPlace.deferredSplit]) == Array(decoding.deferred[start..<decoding.deferredSplit]),
                             "reverted effects, \(note())")
                try #require(Array(inPlace.deferred[inPlace.deferredSplit...]) == Array(decoding.deferred[decoding.deferredSplit...]),
                             "added effects, \(note())")
            } else if decoded == "true" {
                try #require(inPlace.netChanges.map(\.key) == decoding.netChanges.map(\.key), "net change's cells, \(note())")
                try #require(inPlace.netChanges.map(\.delta) == decoding.netChanges.map(\.delta), "net change, \(note())")
            }
            try #require(inPlaceDocuments.records == decodingDocuments.records, "records, \(note())")
            return decoded
        }
    }

    static let seeds: ClosedRange<UInt64> = 1...6

    @Test("generated histories: each snapshot read in place hands over the same reverted and added effects (replay) or net change (ingest), and keeps the same records, as decoding it (every document type and status, kits, edits, stale snapshots, deletions)",
          arguments: Soak.seeds(seeds))
    func sameAsDecoding(seed: UInt64) throws {
        var generator = HistoryGenerator(seed: seed, shape: .init(variants: 200, locations: 3, stores: 2))
        var pair = Pair(), inline = Pair(defersNetting: false)
        var snapshots = 0
        for (i, line) in generator.history(events: 3_000).enumerated() {
            let payload = try EventCodec.decodeLine(line).payload
            switch payload {
            case .salesOrderUpserted, .manufacturingOrderUpserted, .purchaseOrderUpserted, .stockAdjustmentUpserted, .stockTransferUpserted:
                snapshots += 1
            default: break
            }
            try pair.apply(payload, at: Int64(i + 1), "replay, seed \(seed), line \(i + 1)")
            try inline.apply(payload, at: Int64(i + 1), "ingest, seed \(seed), line \(i + 1)")
        }
        // Every document snapshot went the in-place way: the comparisons above are about it.
        #expect(snapshots > 1_000 && pair.takenInPlace == snapshots && inline.takenInPlace == snapshots, "seed \(seed)")
    }

    @Test("rule 9 read in place: only a source of exactly `woocommerce` counts for opted-out stores")
    func wooCommerceSource() throws {
        var pair = Pair()
        for (i, source) in ["woocommerce", "WooCommerce", "woocommerc", "woocommerce-eu", "", "katana"].enumerated() {
            let order = try Self.payload("sales_order.upserted", #""order_id":\#(i + 1),"updated_at":"2026-11-26T10:00:00Z","status":"PENDING","location_id":1,"source":"\#(source)","rows":[{"row_id":1,"variant_id":1,"quantity":3}]"#)
            try pair.apply(order, at: Int64(i + 1), "source '\(source)'")
        }
        #expect(pair.takenInPlace == 6)
        let wooOnly = pair.inPlaceDocuments.records.filter { $0.value.effects.contains { $0.field == .committedSyncWooCommerce } }
        #expect(wooOnly.map(\.key) == [DocumentKey(.salesOrder, 1)])
    }

    @Test("a payload it cannot take (JSON of an older journal, truncated, trailing bytes, other event types) is left to decoding, with nothing changed")
    func leftToDecoding() throws {
        let order = try Self.payload("sales_order.upserted", #""order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"PENDING","location_id":1,"source":"katana","rows":[{"row_id":1,"variant_id":1,"quantity":3}]"#)
        let bytes = BinaryPayload.encode(order)
        let refused: [(String, [UInt8])] = [
            ("JSON", Array(#"{"order_id":1}"#.utf8)),
            ("truncated", Array(bytes.dropLast())),
            ("trailing byte", bytes + [0]),
            ("empty", []),
            ("sales order deletion", BinaryPayload.encode(.documentDeleted(.salesOrder, 1))),
            ("reconciliation", BinaryPayload.encode(.inventoryReconciled(InventoryReconciliation(variantID: 1, locationID: 1, inStock: Quantity(5))))),
            ("variant", BinaryPayload.encode(.variantUpserted(.undeclared(1)))),
        ]
        var ledger = DocumentLedger()
        ledger.defersNetting = true
        var documents = InMemoryDocuments()
        for (name, bytes) in refused {
            #expect(try bytes.withUnsafeBytes { try ledger.applyInPlace($0, at: 1, documents: &documents) } == false, "\(name)")
        }
        #expect(ledger.deferred.isEmpty && documents.records.isEmpty)
        #expect(try bytes.withUnsafeBytes { try ledger.applyInPlace($0, at: 1, documents: &documents) }, "the intact payload is taken")
    }

    @Test("a snapshot whose effects overflow is left to decoding: refused when it applies, ignored when stale (rule 8)")
    func overflowLeftToDecoding() throws {
        func order(_ updated: String, quantity: String, rate: String) throws -> EventPayload {
            try InPlaceReadingTests.payload("purchase_order.upserted", #""order_id":1,"updated_at":"\#(updated)","status":"RECEIVED","location_id":1,"rows":[{"row_id":1,"variant_id":1,"quantity":"\#(quantity)","conversion_rate":"\#(rate)"}]"#)
        }
        let huge = try order("2026-11-26T10:00:00Z", quantity: "999999999999999", rate: "999999999999999")
        for defersNetting in [true, false] {
            var pair = Pair(defersNetting: defersNetting)
            #expect(try pair.apply(huge, at: 1, "applies").hasPrefix("error: "), "refused: quantity out of range")
            try pair.apply(order("2026-11-27T00:00:00Z", quantity: "2", rate: "3"), at: 2, "a newer snapshot")
            #expect(try pair.apply(huge, at: 3, "stale and overflowing") == "true")
            #expect(pair.takenInPlace == 1, "only the newer snapshot was read in place")
            #expect(pair.inPlaceDocuments.records[DocumentKey(.purchaseOrder, 1)]?.position == 2)
        }
    }
}
