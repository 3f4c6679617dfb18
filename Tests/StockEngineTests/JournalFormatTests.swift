import Foundation
import StockDomain
import StockEngine
import StockSyncTesting
import Testing

/// SPEC §3.1: the journal is the record, kept for years. A database written by an earlier
/// build must read the same in every later one. The round-trip tests cannot see a change made
/// to the encoder and the decoder together (a new event type inserted before others in
/// `EventType`, a status reordered, a field moved): every fresh journal still round-trips,
/// while every stored one is misread. This pins the bytes real builds of each schema version
/// since 4 wrote (`Fixtures/journal-format/vN/`).
@Suite("Journal files written by earlier versions stay readable (SPEC §3.1)", .serialized)
struct JournalFormatTests {
    static let dir = Checkout.fixtures.appendingPathComponent("journal-format")

    /// The schema versions with a fixture, each written by the build that introduced it.
    static let versions = [4, 5, 6]

    static func text(_ name: String, version: Int = 4) throws -> String {
        try String(contentsOf: dir.appendingPathComponent("v\(version)/\(name)"), encoding: .utf8)
    }

    /// A fresh database file holding what `vN/journal.sql` dumped.
    static func load(version: Int, _ tmp: TemporaryDirectory) throws -> String {
        let db = tmp.path("v\(version).db")
        try SQLiteFixture(path: db).execute(text("journal.sql", version: version))
        return db
    }

    @Test("the version-4 fixture holds every event type and document status version 4 knew, and those stay the first cases of their enums (new ones go at the end), so each stored tag is pinned")
    func fixtureCoversEveryTag() throws {
        var types = Set<String>(), sales = Set<String>(), manufacturing = Set<String>(), purchase = Set<String>(), transfer = Set<String>()
        for line in try Self.text("expected-log.jsonl").split(separator: "\n") {
            let event = try EventCodec.decodeLine(String(line))
            types.insert(event.type.rawValue)
            switch event.payload {
            case .salesOrderUpserted(let o): sales.insert(o.status.rawValue)
            case .manufacturingOrderUpserted(let o): manufacturing.insert(o.status.rawValue)
            case .purchaseOrderUpserted(let o): purchase.insert(o.status.rawValue)
            case .stockTransferUpserted(let t): transfer.insert(t.status.rawValue)
            default: break
            }
        }
        // A stored tag is a case's index in its enum: version 4 knew 21 event types and 6, 5, 4
        // and 3 statuses. Cases added later must come after them.
        let advice = "a stored tag is the case's index: add new cases at the end of the enum"
        #expect(types == Set(EventType.allCases.prefix(21).map(\.rawValue)), "\(advice)")
        #expect(sales == Set(SalesOrder.Status.allCases.prefix(6).map(\.rawValue)), "\(advice)")
        #expect(manufacturing == Set(ManufacturingOrder.Status.allCases.prefix(5).map(\.rawValue)), "\(advice)")
        #expect(purchase == Set(PurchaseOrder.Status.allCases.prefix(4).map(\.rawValue)), "\(advice)")
        #expect(transfer == Set(StockTransfer.Status.allCases.prefix(3).map(\.rawValue)), "\(advice)")
    }

    @Test("a version-5 file read without migrating is loaded whole after every write, marks or not: an older build may still be writing it, and marks nothing")
    func unmarkedWrites() throws {
        let tmp = TemporaryDirectory("stocksync-format")
        defer { tmp.remove() }
        let db = try Self.load(version: 5, tmp)
        let reader = try Journal(path: db, writable: false)
        #expect(try reader.state().projection.catalogue[ProductKey("main", 999)] == nil)
        // An older build adds a product: written here (which migrates the file), then the file
        // is put back as that build would have left it, without marks, at version 5.
        let line = #"{"id":"p999","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":999,"sku":"NEW-1","date_created":"2026-01-01T00:00:00"}}"#
        try line.write(toFile: tmp.path("p.jsonl"), atomically: true, encoding: .utf8)
        _ = try Journal(path: db, writable: true).ingest([tmp.path("p.jsonl")])
        try SQLiteFixture(path: db).execute("DELETE FROM projection_meta WHERE key LIKE 'changed:%'; PRAGMA user_version = 5")
        #expect(try reader.state().projection.catalogue[ProductKey("main", 999)]?.sku == "NEW-1")
    }

    @Test("a database written by each schema version reads as it was written: the same export byte for byte, the same stock, outbox and stores, replay --verify agrees with its stored tables, explain reads its documents and deliveries, and it takes new events",
          arguments: versions)
    func readsAsWritten(version: Int) throws {
        let tmp = TemporaryDirectory("stocksync-format")
        defer { tmp.remove() }
        let db = try Self.load(version: version, tmp)
        let fixture = try SQLiteFixture(path: db)
        #expect(try fixture.strings("PRAGMA user_version") == ["\(version)"])
        // Variant declarations were JSON text up to version 4 and binary since 5: both must load.
        // Resyncs that list their products came with version 5 too.
        #expect(try fixture.strings("SELECT DISTINCT typeof(data) FROM variants") == [version < 5 ? "text" : "blob"])
        #expect(try Self.text("expected-log.jsonl", version: version).contains(#""woo_ids":["#) == (version >= 5))
        // Each projection table's last change is marked since version 6.
        #expect(try fixture.strings("SELECT count(*) FROM projection_meta WHERE key LIKE 'changed:%'") == [version < 6 ? "0" : "6"])

        let log = try CLI.run(["log", "--json", "--db", db])
        #expect(log.status == 0, "\(log.stderr)")
        #expect(log.stdout == (try Self.text("expected-log.jsonl", version: version)),
                "stored payloads decode differently: a change to BinaryPayload or to the order of EventType or a status enum needs a new format byte or a migration, never a silent change")
        for (command, expected) in [(["stock", "--json"], "expected-stock.json"), (["outbox", "--json"], "expected-outbox.json"),
                                    (["store", "list", "--json"], "expected-stores.json")] {
            let r = try CLI.run(command + ["--db", db])
            #expect(r.status == 0, "\(command): \(r.stderr)")
            #expect(try JSONReader.parse(r.stdout) == JSONReader.parse(Self.text(expected, version: version)), "\(command)")
        }
        let verify = try CLI.run(["replay", "--verify", "--db", db])
        #expect(verify.status == 0, "stored projections or document records read differently: \(verify.stdout)\(verify.stderr)")

        let explain = try CLI.run(["explain", "KIT-É", "--store", "main", "--db", db])
        #expect(explain.status == 0, "\(explain.stderr)")
        #expect(explain.stdout.contains("sales order SO-1 (id 1, PENDING, source katana)"), "from the documents table:\n\(explain.stdout)")
        #expect(explain.stdout.contains("variation 103 of product 102"))
        #expect(explain.stdout.contains("sent -1 (journal position 52) → HTTP 400 woocommerce_rest_invalid_stock"), "from the delivery log")

        let next = #"{"id":"after-v4","type":"stock_adjustment.upserted","at":"2026-12-01T10:00:00Z","data":{"adjustment_id":9,"updated_at":"2026-12-01T10:00:00Z","location_id":2,"rows":[{"variant_id":1,"quantity":"1"}]}}"#
        let ingest = try CLI.run(["ingest", "-", "--db", db], stdin: Data(next.utf8))
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let outbox = try CLI.run(["outbox", "--json", "--db", db])
        let appendedAt = try Self.text("expected-log.jsonl", version: version).split(separator: "\n").count + 1
        #expect(outbox.stdout.contains(#"{"store":"eu","woo_id":202,"parent_id":null,"quantity":9,"position":\#(appendedAt)}"#), "\(outbox.stdout)")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        // A replay after an upgrade rewrites rows an older version encoded otherwise; they were
        // right, and it says so rather than count them as corrections.
        // One old row that is wrong (its SKU edited by hand) still counts as a correction.
        if version < 5 { try fixture.execute("UPDATE variants SET data = replace(data, '\"WOOD\"', '\"WOOF\"') WHERE variant_id = 2") }
        let replay = try CLI.run(["replay", "--db", db])
        let summary = version < 5 ? "(1 stored row corrected; 3 right but rewritten in this version's encoding)" : "(0 stored rows corrected)"
        #expect(replay.status == 0 && replay.stdout.contains(summary), "\(replay.stdout)\(replay.stderr)")
        #expect(try CLI.run(["replay", "--db", db]).stdout.contains("(0 stored rows corrected)"))
    }
}
