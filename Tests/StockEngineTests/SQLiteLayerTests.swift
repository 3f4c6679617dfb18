import CSQLite
import SQLite
import StockSyncTesting
import Testing

@Suite("The SQLite layer: settings and bindings")
struct SQLiteLayerTests {
    /// Statistics would take a global mutex on every allocation SQLite makes: about 5 % of
    /// ingest's writing thread before they were turned off.
    @Test("SQLite keeps no memory statistics once a connection has been opened")
    func noMemoryStatistics() throws {
        let tmp = TemporaryDirectory()
        let db = try Database(path: tmp.path("t.db"))
        try db.execute("CREATE TABLE t (x); INSERT INTO t VALUES (randomblob(100000))")
        var current: Int64 = 0, highest: Int64 = 0
        #expect(sqlite3_status64(SQLITE_STATUS_MEMORY_USED, &current, &highest, 0) == SQLITE_OK)
        #expect(current == 0 && highest == 0)
    }

    @Test("a bound string is stored as exactly its text: empty is not NULL, non-ASCII and long strings are whole")
    func boundText() throws {
        let tmp = TemporaryDirectory()
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
}
