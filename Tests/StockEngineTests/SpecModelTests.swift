import Foundation
import StockDomain
@testable import StockEngine
import StockSyncTesting
import Testing

/// SPEC §2 as a whole: the engine's state equals `SpecModel`'s, an independent and naive
/// reading of the rules, over generated histories that also connect, reconnect, move and
/// reconfigure stores, delete variants, collide SKUs and creation dates, and send explicit
/// quantities in complete statuses.
@Suite("The engine against a naive model of the spec")
struct SpecModelTests {
    @Test("stock rows and pending pushes equal the model's, at the end and part-way", arguments: Soak.seeds(1...30))
    func agreesWithModel(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = StructuralHistory(seed: seed)
        let lines = generator.history(events: 400)
        var model = SpecModel()
        var random = SeededRandom(seed: seed &+ 1000)
        let journal = try Journal(path: tmp.path("a.db"), writable: true)
        var index = 0, chunk = 0
        var checkpoints: [(position: Int64, stock: [String], outbox: [String])] = []
        while index < lines.count {
            let n = Int.random(in: 1...150, using: &random)
            let slice = lines[index..<min(lines.count, index + n)]
            let file = tmp.path("chunk\(chunk).jsonl")
            try slice.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            _ = try journal.ingest([file])
            for line in slice { model.apply(try EventCodec.decodeLine(line)) }
            checkpoints.append((model.position, model.stockLines(), model.outboxLines()))
            index += n; chunk += 1
        }
        let end = try engineLines(journal)
        #expect(try journal.head() == model.position)
        Self.expectSame(end.stock, model.stockLines(), "stock at the end, seed \(seed)")
        Self.expectSame(end.outbox, model.outboxLines(), "outbox at the end, seed \(seed)")
        // These histories reach events the equivalence suite's do not (reconnections, deleted
        // variants, links, dates in other offsets): replay and a re-ingested export agree too.
        #expect(try journal.verify() == [])
        let exported = try ReplayEquivalenceTests.export(journal)
        try exported.write(toFile: tmp.path("export.jsonl"), atomically: true, encoding: .utf8)
        let copy = try Journal(path: tmp.path("b.db"), writable: true)
        #expect(try copy.ingest([tmp.path("export.jsonl")]).duplicates == 0)
        let copied = try engineLines(copy)
        #expect(copied.stock == end.stock && copied.outbox == end.outbox)
        // Part-way, through replay: the state as of each ingest call's end.
        for checkpoint in checkpoints.dropLast().suffix(2) {
            let then = try engineLines(journal, at: .position(checkpoint.position))
            Self.expectSame(then.stock, checkpoint.stock, "stock --at \(checkpoint.position), seed \(seed)")
            Self.expectSame(then.outbox, checkpoint.outbox, "outbox --at \(checkpoint.position), seed \(seed)")
        }
    }

    @Test("the histories reach what the comparison is about: every kind of match, pending pushes, stores off, moved and reconnected")
    func historiesAreRich() throws {
        var stock: [String] = [], outbox: [String] = [], lines: [String] = []
        for seed in UInt64(1)...30 {
            var generator = StructuralHistory(seed: seed)
            let history = generator.history(events: 400)
            var model = SpecModel()
            for line in history { model.apply(try EventCodec.decodeLine(line)) }
            stock += model.stockLines(); outbox += model.outboxLines(); lines += history
        }
        for shown in ["match sku", "match woo_id", "match none", "sync false", "parent_id [0-9]", "synced -"] {
            #expect(stock.contains { $0.range(of: shown, options: .regularExpression) != nil }, "no stock row shows '\(shown)'")
        }
        #expect(outbox.count > 100)
        for type in ["store.disconnected", "store.connected", "variant.deleted", "store.resync_requested", "woo.stock.acknowledged"] {
            #expect(lines.filter { $0.contains(#""type":"\#(type)""#) }.count > 30, "few '\(type)' events")
        }
        #expect(lines.contains { $0.contains(#""type":"store.reconfigured""#) && $0.contains("location_id") })
        #expect(lines.filter { $0.contains(#""type":"store.resync_requested""#) && $0.contains("woo_ids") }.count > 15, "few narrowed resyncs")
    }

    static let explainSeeds: ClosedRange<UInt64> = 1...8

    @Test("explain's contributions add up: In stock, Committed for sync, Katana's Committed and Expected are the sums of the lines under them, whether every one is listed or the earlier ones are summed into one line", arguments: Soak.seeds(SpecModelTests.explainSeeds))
    func explainAddsUp(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = StructuralHistory(seed: seed)
        let file = tmp.path("history.jsonl")
        try generator.history(events: 400).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let journal = try Journal(path: tmp.path("a.db"), writable: true)
        _ = try journal.ingest([file])
        let view = try journal.state()
        var explained = 0, summed = 0
        for row in try view.projection.stockRows() {
            for column in row.stores {
                // Every contribution listed, and the earlier ones summed into one line past two.
                for limit in [nil, 2] {
                    let text = try Explain.render(.variant(row.variantID), store: column.store, in: view, limit: limit)
                    let sums = Self.sections(text)
                    let what = "variant \(row.variantID) location \(row.locationID) store \(column.store), seed \(seed), limit \(limit.map(String.init) ?? "none"):\n\(text)"
                    #expect(sums["In stock"] == SpecModel.decimal(row.cell.inStock), "\(what)")
                    #expect(sums["Committed for sync"] == SpecModel.decimal(column.committedForSync), "\(what)")
                    #expect((sums["Committed for sync"] ?? 0) + (sums["Not counted for sync"] ?? 0) == SpecModel.decimal(row.cell.committedTotal), "\(what)")
                    #expect((sums["Expected"] ?? 0) == SpecModel.decimal(row.cell.expected), "\(what)")
                    if text.contains("earlier contributions together") { summed += 1 }
                }
                explained += 1
            }
        }
        // These seeds are chosen to reach both; a soak seed may end with every store disconnected.
        if Self.explainSeeds.contains(seed) {
            #expect(explained > 5)
            #expect(summed > 0, "no explain had more than two contributions under a heading")
        }
    }

    /// The amounts listed under each heading of an explain, summed; a heading without lines sums to 0.
    static func sections(_ text: String) -> [String: Decimal] {
        var sums: [String: Decimal] = [:]
        var current: String? = nil
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  ") && !line.hasPrefix("   ") {
                let heading = line.dropFirst(2)
                current = ["In stock", "Committed for sync", "Not counted for sync", "Expected"].first { heading.hasPrefix($0) }
                if let current, sums[current] == nil { sums[current] = 0 }
            } else if line.hasPrefix("      "), let current,
                      let amount = line.split(separator: " ").first.flatMap({ Decimal(string: String($0.hasPrefix("+") ? $0.dropFirst() : $0)) }) {
                sums[current, default: 0] += amount
            }
        }
        return sums
    }

    func engineLines(_ journal: Journal, at point: PointInTime? = nil) throws -> (stock: [String], outbox: [String]) {
        let projection = try journal.state(at: point).projection
        let stock = try projection.stockRows().map { row in
            var line = SpecModel.stockLine(variant: row.variantID, sku: row.sku, location: row.locationID, inStock: "\(row.cell.inStock)",
                                           committedTotal: "\(row.cell.committedTotal)", expected: "\(row.cell.expected)")
            for column in row.stores {
                let kind: String
                switch column.match {
                case .matched(_, let k): kind = k.rawValue
                case .none: kind = "none"
                }
                line += SpecModel.storeColumn(column.store, sync: column.stockSync, committedForSync: "\(column.committedForSync)",
                                              synced: column.synced, match: kind, product: column.match.product)
            }
            return line
        }
        let outbox = projection.pending.keys.sorted().map { key in
            let entry = projection.pending[key]!
            return SpecModel.outboxLine(store: key.store, wooID: key.wooID, parentID: projection.catalogue[key]?.parentID,
                                        quantity: entry.quantity, position: entry.position)
        }
        return (stock, outbox)
    }

    /// Reports the first few differing lines, not two walls of text.
    static func expectSame(_ engine: [String], _ model: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard engine != model else { return }
        let onlyEngine = engine.filter { !model.contains($0) }.prefix(4)
        let onlyModel = model.filter { !engine.contains($0) }.prefix(4)
        Issue.record("\(what): engine \(engine.count) lines, model \(model.count)\nengine only:\n  \(onlyEngine.joined(separator: "\n  "))\nmodel only:\n  \(onlyModel.joined(separator: "\n  "))",
                     sourceLocation: sourceLocation)
    }
}

/// `HistoryGenerator`'s histories on a small catalogue (so that SKUs, products and orders
/// collide often), with store life-cycles and the rarer shapes mixed in: connections,
/// reconnections at another location, reconfigurations of every setting, deleted variants,
/// empty and shared SKUs, `woo_links`, creation dates missing or equal in different offsets,
/// and explicit fulfilled, completed and received quantities in complete statuses. Events
/// that would be refused (a catalogue change for a store not connected, say) are left out:
/// every history is valid.
struct StructuralHistory {
    var base: HistoryGenerator
    var random: SeededRandom
    var connected: [String: Bool] = ["main": true, "store1": true, "store2": true, "late": false]
    var emitted = 0
    let variants = 12

    init(seed: UInt64) {
        base = HistoryGenerator(seed: seed, shape: .init(variants: 12, locations: 3, stores: 3))
        random = SeededRandom(seed: seed &* 7919)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func pick<T>(_ options: [T]) -> T { options[int(0...options.count - 1)] }
    mutating func bool() -> String { int(0...1) == 0 ? "false" : "true" }

    mutating func line(_ type: String, _ data: String) -> String {
        emitted += 1
        return #"{"id":"x\#(emitted)","type":"\#(type)","at":"2026-11-26T10:00:00Z","data":{\#(data)}}"#
    }

    mutating func history(events: Int) -> [String] {
        var lines = base.preamble()
        while lines.count < events + 60 {
            if int(0...99) < 22 {
                lines.append(structural())
            } else {
                let next = base.next()
                if refused(next) { continue }
                lines.append(next)
            }
        }
        return lines
    }

    /// The base generator's events that name a store not connected now, where that is refused.
    func refused(_ line: String) -> Bool {
        guard line.contains(#""type":"woo.product.upserted""#) || line.contains(#""type":"store.reconfigured""#)
                || line.contains(#""type":"store.resync_requested""#) else { return false }
        return connected.contains { store, isConnected in !isConnected && line.contains(#""store":"\#(store)""#) }
    }

    mutating func structural() -> String {
        let store = pick(connected.keys.sorted())
        let v = int(1...variants)
        switch int(0...10) {
        case 0:
            if connected[store] == true {
                connected[store] = false
                return line("store.disconnected", #""store":"\#(store)""#)
            }
            connected[store] = true
            return line("store.connected", #""store":"\#(store)","url":"https://\#(store).example.com","location_id":\#(int(1...3)),"stock_sync":\#(bool()),"katana_orders_reduce_stock":\#(bool()),"floor_at_zero":\#(bool())"#)
        case 1 where connected[store] == true:
            var fields = [#""store":"\#(store)""#]
            if int(0...2) == 0 { fields.append(#""location_id":\#(int(1...3))"#) }
            if int(0...1) == 0 { fields.append(#""stock_sync":\#(bool())"#) }
            if int(0...1) == 0 { fields.append(#""katana_orders_reduce_stock":\#(bool())"#) }
            if int(0...2) == 0 { fields.append(#""floor_at_zero":\#(bool())"#) }
            return line("store.reconfigured", fields.joined(separator: ","))
        case 2:
            return line("variant.deleted", #""variant_id":\#(v)"#)
        case 3:
            let sku = pick([#""SKU-\#(v)""#, #""SKU-\#(int(1...variants))""#, #""""#, "null", #""sku-\#(v)""#])
            var extra = ""
            if int(0...2) == 0 {
                let links = (0..<int(1...2)).map { _ in #"{"store":"\#(pick(["main", "store1", "late"]))","woo_id":\#(pick([0, 1_000_000, 2_000_000]) + int(1...variants + 3))}"# }
                extra += #","woo_links":[\#(links.joined(separator: ","))]"#
            }
            if int(0...4) == 0 && v > 2 { extra += #","components":[{"variant_id":\#(v - 1),"quantity":"1.5"},{"variant_id":\#(v - 2),"quantity":2}]"# }
            return line("variant.upserted", #""variant_id":\#(v),"sku":\#(sku),"kind":"product""# + extra)
        case 4 where connected[store] == true, 9 where connected[store] == true:
            let offset = ["main": 0, "store1": 1_000_000, "store2": 2_000_000, "late": 3_000_000][store] ?? 0
            // Later than every other product's date, and the same instant written three ways:
            // products sharing a SKU often tie (rule 12).
            let date = pick(["null", #""2027-01-01T00:00:00""#, #""2027-01-01T00:00:00Z""#, #""2027-01-01T01:00:00+01:00""#, #""2025-03-01T00:00:00""#])
            let parent = int(0...3) == 0 ? offset + 900_000 : 0
            return line("woo.product.upserted", #""store":"\#(store)","woo_id":\#(offset + int(1...variants + 3)),"parent_id":\#(parent),"sku":"SKU-\#(int(1...4))","date_created":\#(date)"#)
        case 5 where connected[store] == true:
            guard int(0...1) == 0 else { return line("store.resync_requested", #""store":"\#(store)""#) }
            // A narrowed resync: products of this store (matched or not, in the catalogue or
            // not) and of another store, which it must not touch.
            let offset = ["main": 0, "store1": 1_000_000, "store2": 2_000_000, "late": 3_000_000][store] ?? 0
            let ids = (0..<int(1...3)).map { _ in String(pick([offset, 1_000_000]) + int(1...variants + 3)) }
            return line("store.resync_requested", #""store":"\#(store)","woo_ids":[\#(ids.joined(separator: ","))]"#)
        case 6:
            // Explicit quantities in complete statuses (rule 3); rates whose products need all 18
            // fractional digits (0.5 × 0.333333333), which the stored tables must read back.
            return line("purchase_order.upserted", #""order_id":\#(int(1...6)),"updated_at":"2026-11-2\#(int(0...9))T10:00:00Z","status":"\#(pick(["RECEIVED", "DRAFT", "PARTIALLY_RECEIVED"]))","location_id":\#(int(1...3)),"rows":[{"row_id":1,"variant_id":\#(v),"quantity":\#(pick(["10", "\"0.5\"", "\"7.123456789\""])),"received_quantity":\#(int(0...12)),"conversion_rate":"\#(pick(["2.5", "0.333333333"]))"}]"#)
        case 7:
            return line("manufacturing_order.upserted", #""order_id":\#(int(1...6)),"updated_at":"2026-11-2\#(int(0...9))T10:00:00Z","status":"\#(pick(["DONE", "NOT_STARTED"]))","location_id":\#(int(1...3)),"variant_id":\#(v),"planned_quantity":8,"completed_quantity":\#(int(0...9)),"ingredients":[{"variant_id":\#(int(1...variants)),"planned_quantity":"4.5","consumed_quantity":\#(int(0...5))}]"#)
        case 8:
            return line("sales_order.upserted", #""order_id":\#(int(1...6)),"updated_at":"2026-11-2\#(int(0...9))T10:00:00Z","status":"\#(pick(["PACKED", "DELIVERED", "PARTIALLY_PACKED"]))","location_id":\#(int(1...3)),"source":"\#(pick(["woocommerce", "katana", "WooCommerce"]))","rows":[{"row_id":1,"variant_id":\#(v),"quantity":"3.5","fulfilled_quantity":\#(int(0...4))}]"#)
        default:
            return line("stock_transfer.upserted", #""transfer_id":\#(int(1...4)),"updated_at":"2026-11-2\#(int(0...9))T10:00:00Z","status":"\#(pick(["draft", "in_transit", "received"]))","source_location_id":\#(int(1...3)),"target_location_id":\#(int(1...3)),"rows":[{"variant_id":\#(v),"quantity":"2.25"}]"#)
        }
    }
}
