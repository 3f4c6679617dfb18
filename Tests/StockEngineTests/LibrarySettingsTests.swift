import CSQLite
import SQLite
import StockSyncTesting
import Testing

@Suite("Process-wide SQLite settings")
struct LibrarySettingsTests {
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
}
