import Foundation
import StockDomain
@testable import StockEngine
import StockSyncTesting
import Testing

/// SPEC §3.1 and §5: the inline state, the replayed state and the state after
/// `log --json | ingest -` are identical, over many generated histories.
@Suite("Replay equivalence over generated histories")
struct ReplayEquivalenceTests {
    func snapshot(_ journal: Journal, at point: PointInTime? = nil) throws -> String {
        let view = try journal.state(at: point)
        return Render.stockJSON(position: view.projection.position, rows: try view.projection.stockRows()) + "\n" + Render.outboxJSON(view.projection)
    }

    /// `log --json` of the journal through `last`.
    static func export(_ journal: Journal, through last: Int64 = .max) throws -> String {
        var out = ""
        try journal.forEachEvent(through: last) { position, event in out += EventCodec.encodeLine(event, position: position) + "\n" }
        return out
    }

    @Test("inline == replayed == re-ingested export, and --at N == a journal cut at N", arguments: Soak.seeds(1...40))
    func equivalence(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: seed, shape: .init(variants: 40, locations: 3, stores: 3))
        let lines = generator.history(events: 300)
        // Ingest in random chunks: several calls, several transactions.
        var random = SeededRandom(seed: seed)
        let a = try Journal(path: tmp.path("a.db"), writable: true)
        var index = 0, chunk = 0
        while index < lines.count {
            let n = Int.random(in: 1...120, using: &random)
            let file = tmp.path("chunk\(chunk).jsonl")
            try lines[index..<min(lines.count, index + n)].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            _ = try a.ingest([file])
            index += n; chunk += 1
        }
        let inline = try snapshot(a)
        #expect(try a.verify().isEmpty)

        // log --json | ingest - into a new database.
        let exported = try Self.export(a)
        try exported.write(toFile: tmp.path("export.jsonl"), atomically: true, encoding: .utf8)
        let b = try Journal(path: tmp.path("b.db"), writable: true)
        let summary = try b.ingest([tmp.path("export.jsonl")])
        #expect(summary.duplicates == 0)
        #expect(try snapshot(b) == inline)
        #expect(try Self.export(b) == exported, "export is canonical: byte-identical after a round trip")

        // Recovery: rebuilding the projections in place gives the same state.
        try a.rebuild()
        #expect(try snapshot(a) == inline)

        // Point in time: the state as of position k equals a journal holding only the first k events.
        let head = try a.head()
        let k = Int64.random(in: 0...head, using: &random)
        let c = try Journal(path: tmp.path("c.db"), writable: true)
        try Self.export(a, through: k).write(toFile: tmp.path("cut.jsonl"), atomically: true, encoding: .utf8)
        _ = try c.ingest([tmp.path("cut.jsonl")])
        #expect(try snapshot(a, at: .position(k)) == snapshot(c))
    }

    @Test("a history of many replay batches: the two-stage replay equals the inline fold, document and reconciliation records included", arguments: [UInt64(7), 8, 9])
    func manyBatches(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        // Several thousand events: replay hands them over in batches, and reconciliation records
        // made by the stock stage reach the reading thread's document store between batches.
        var generator = HistoryGenerator(seed: seed, shape: .init(variants: 200, locations: 3, stores: 2))
        let lines = generator.history(events: 6_000)
        #expect(lines.filter { $0.contains(#""type":"inventory.reconciled""#) }.count > 150)
        let file = tmp.path("history.jsonl")
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let journal = try Journal(path: tmp.path("a.db"), writable: true)
        _ = try journal.ingest([file])
        #expect(try journal.head() > 3 * 1_024)
        let inline = try snapshot(journal)
        // `verify` compares every projection table and the documents table, row by row.
        #expect(try journal.verify() == [])
        try journal.rebuild()
        #expect(try snapshot(journal) == inline)
        #expect(try journal.verify() == [])
    }

    @Test("§3.1 two processes writing by turns: each brings its kept projection forward from the other's writes (table by table when only stock, outbox or held values changed) and equals a whole load", arguments: Soak.seeds(1...12))
    func twoWriters(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: seed, shape: .init(variants: 40, locations: 3, stores: 3))
        let lines = generator.history(events: 400)
        var random = SeededRandom(seed: seed &+ 99)
        let path = tmp.path("a.db")
        let writers = [try Journal(path: path, writable: true), try Journal(path: path, writable: true)]
        var index = 0, chunk = 0
        while index < lines.count {
            let n = Int.random(in: 1...30, using: &random)
            let file = tmp.path("chunk\(chunk).jsonl")
            try lines[index..<min(lines.count, index + n)].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            _ = try writers[Int.random(in: 0...1, using: &random)].ingest([file])
            index += n; chunk += 1
            let whole = try Journal(path: path, writable: false).state().projection
            for (i, writer) in writers.enumerated() {
                let kept = try writer.state().projection
                #expect(kept.position == whole.position && kept.cells == whole.cells && kept.pending == whole.pending
                        && kept.held == whole.held, "writer \(i) after chunk \(chunk): stock, outbox or held values differ")
                #expect(kept.variants == whole.variants && kept.catalogue == whole.catalogue && kept.stores == whole.stores,
                        "writer \(i) after chunk \(chunk): variants, catalogue or stores differ")
                #expect(try snapshot(writer) == snapshot(Journal(path: path, writable: false)), "writer \(i) after chunk \(chunk): matches differ")
            }
        }
        #expect(writers.map(\.loads.advanced).reduce(0, +) > 0, "some writes of the other changed stock only")
        #expect(writers.map(\.loads.whole).reduce(0, +) > 2, "some changed the catalogue, variants or stores")
        #expect(try writers[0].verify() == [])
    }

    @Test("an ingest that changes most cells and product rows writes them all, and a later small one only its own: both equal a rebuild")
    func ingestWritingEveryCell() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: 11, shape: .init(variants: 1_000, locations: 3, stores: 2))
        let lines = generator.history(events: 8_000)
        try lines[..<7_990].joined(separator: "\n").write(toFile: tmp.path("big.jsonl"), atomically: true, encoding: .utf8)
        try lines[7_990...].joined(separator: "\n").write(toFile: tmp.path("small.jsonl"), atomically: true, encoding: .utf8)
        let journal = try Journal(path: tmp.path("a.db"), writable: true)
        _ = try journal.ingest([tmp.path("big.jsonl")])
        // More than 1,024 cells and more than half of them: past the point where the fold stops
        // naming each changed cell and the save writes every one. The same holds for the
        // catalogue, outbox and held rows, deletions among them (products and pushes).
        let cells = try journal.state().projection.cells.count
        #expect(cells > 2_048)
        #expect(try journal.verify() == [])
        _ = try journal.ingest([tmp.path("small.jsonl")])
        #expect(try journal.verify() == [])
        // Another process's resync of both stores changes the outbox rows of most of the
        // catalogue, through that same whole-table save: a reader keeping the projection sees it.
        func ingest(_ type: String, _ data: (String) -> String) throws {
            let lines = ["main", "store1"].map { #"{"id":"\#(type)-\#($0)","type":"\#(type)","at":"2026-11-26T10:00:00Z","data":{\#(data($0))}}"# }
            try lines.joined(separator: "\n").write(toFile: tmp.path("\(type).jsonl"), atomically: true, encoding: .utf8)
            _ = try journal.ingest([tmp.path("\(type).jsonl")])
        }
        try ingest("store.reconfigured") { #""store":"\#($0)","stock_sync":true"# }
        let other = try Journal(path: tmp.path("a.db"), writable: false)
        let before = try other.state().projection.pending
        try ingest("store.resync_requested") { #""store":"\#($0)""# }
        let after = try other.state().projection
        #expect(try after.pending == journal.state().projection.pending)
        #expect(after.pending.count(where: { before[$0.key] != $0.value }) > 1_024, "enough changed outbox rows for the whole-table save")
        #expect(other.loads == (whole: 1, advanced: 1), "brought forward from the outbox table alone")
    }

    @Test("more document records than the write-behind buffer holds: ingest, replay, --at and verify stay exact, and replay says it rewrote the documents whole")
    func documentsBeyondTheBuffer() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: 21, shape: .init(variants: 100, locations: 3, stores: 2))
        let lines = generator.history(events: 3_000)
        try lines.joined(separator: "\n").write(toFile: tmp.path("h.jsonl"), atomically: true, encoding: .utf8)
        let reference = try Journal(path: tmp.path("reference.db"), writable: true)
        _ = try reference.ingest([tmp.path("h.jsonl")])
        // Seven records at most in memory: every path that flushes before the end runs, many
        // times (an ingest reading records back from the table, a rebuild emptying it first).
        let small = try Journal(path: tmp.path("small.db"), writable: true)
        small.documentBufferLimit = 7
        _ = try small.ingest([tmp.path("h.jsonl")])
        #expect(try snapshot(small) == snapshot(reference))
        #expect(try small.verify() == [])
        let rebuilt = try small.rebuild()
        #expect(rebuilt.documentsRewritten && rebuilt.rowsCorrected == 0)
        #expect(try small.verify() == [])
        #expect(try snapshot(small, at: .position(1_500)) == snapshot(reference, at: .position(1_500)))
        let again = try reference.rebuild()
        #expect(!again.documentsRewritten && again.rowsCorrected == 0)
    }
}
