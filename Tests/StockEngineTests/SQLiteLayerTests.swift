import CSQLite
import SQLite
import StockDomain
import StockEngine
import StockSyncTesting
import Testing

@Suite("The SQLite layer: settings and bindings")
struct SQLiteLayerTests {
    /// Statistics would take a global mutex on every allocation SQLite makes: about 5 % of
    /// ingest's writing thread before they were turned off.
    @Test("SQLite keeps no memory statistics once a connection has been opened")
    func noMemoryStatistics() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let db = try Database(path: tmp.path("t.db"))
        try db.execute("CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))")
        var current: Int64 = 0, highest: Int64 = 0
        #expect(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &current, &highest, 0) == SQLITE_OK)
        #expect(current == 0 && highest == 0)
    }

    @Test("a bound string is stored as exactly its text: empty is not NULL, non-ASCII and long strings are whole")
    func boundText() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let db = try Database(path: tmp.path("t.db"))
        try db.execute("CREATE TABLE t (n INTEGER, x)")
        let values = ["", "é-ü 東京", String(repeating: "long text ", count: 20), "a\u{0}b"]
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?)")
        for (n, v) in values.enumerated() {
            insert.reset()
            insert.bind(Int64(n), at: 1)
            insert.bind(v, at: 2)
            try insert.step()
        }
        let read = try db.prepare("SELECT typeof(x), x FROM t ORDER BY n")
        var stored: [String] = []
        while try read.step() {
            #expect(read.text(0) == "text")
            stored.append(read.text(1))
        }
        #expect(stored == values)
    }

    @Test("a new journal gets 16 KiB pages; one made with SQLite's default 4 KiB keeps them and still takes appends")
    func pageSize() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        func pageSize(_ path: String) throws -> String { try SQLiteFixture(path: path).strings("PRAGMA page_size").first ?? "" }
        let event = Event(id: "e1", at: "2025-01-01T00:00:00Z", payload: .variantUpserted(VariantDeclaration(variantID: 1, sku: "A", kind: .product)))

        _ = try Journal(path: tmp.path("new.db"), writable: true).append([event])
        #expect(try pageSize(tmp.path("new.db")) == "\(Journal.pageSize)")

        // A file as builds before this one made it: the same journal, rewritten with 4 KiB pages.
        let old = tmp.path("old.db")
        _ = try Journal(path: old, writable: true).append([event])
        try SQLiteFixture(path: old).execute("PRAGMA journal_mode=DELETE; PRAGMA page_size = 4096; VACUUM; PRAGMA journal_mode=WAL")
        #expect(try pageSize(old) == "4096")
        let journal = try Journal(path: old, writable: true)
        let second = Event(id: "e2", at: "2025-01-01T00:00:00Z", payload: .variantUpserted(VariantDeclaration(variantID: 2, sku: "B", kind: .product)))
        #expect(try journal.append([second]).appended == 1)
        #expect(try pageSize(old) == "4096")
        #expect(try journal.verify().isEmpty)
    }

    @Test("a file given 16 KiB pages keeps its page cache within the size asked for, not four times it")
    func cacheAfterPageSize() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let db = try Database(path: tmp.path("t.db"))
        try db.setPageSize(16_384)
        try db.execute("PRAGMA journal_mode=WAL; CREATE TABLE t (x)")
        // Twice the cache's worth of pages, in one transaction, so the cache fills.
        let rows = 2 * Database.cacheKiB / 16
        try db.writeTransaction {
            try db.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(rows)) INSERT INTO t SELECT randomblob(15000) FROM n")
            #expect(db.pageCacheBytes <= Database.cacheKiB * 1024 * 11 / 10)
            #expect(db.pageCacheBytes >= Database.cacheKiB * 1024 / 2)
        }
    }
}
