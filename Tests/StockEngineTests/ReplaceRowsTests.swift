import SQLite
import StockSyncTesting
import Testing

@Suite("Making a table hold given rows, writing only the differences")
struct ReplaceRowsTests {
    func table(_ setup: String) throws -> (Database, TemporaryDirectory) {
        let tmp = TemporaryDirectory()
        let db = try Database(path: tmp.path("t.db"))
        try db.execute("CREATE TABLE t (store TEXT NOT NULL, id INTEGER NOT NULL, note TEXT, data BLOB, PRIMARY KEY (store, id)) WITHOUT ROWID;" + setup)
        return (db, tmp)
    }

    func contents(_ db: Database) throws -> [[SQLiteValue]] {
        let s = try db.prepare("SELECT store, id, note, data FROM t ORDER BY store, id")
        var rows: [[SQLiteValue]] = []
        while try s.step() {
            rows.append([.text(s.text(0)), .integer(s.int(1)), s.isNull(2) ? .null : .text(s.text(2)), s.isNull(3) ? .null : .blob(s.blob(3))])
        }
        return rows
    }

    let columns = ["store", "id", "note", "data"]

    @Test("kept rows are not written, changed and new ones are, missing ones are deleted; text keys in byte order")
    func differencesOnly() throws {
        let (db, tmp) = try table("""
            INSERT INTO t VALUES ('Z', 1, 'same', x'01'), ('a', 1, NULL, x''), ('a', 2, 'old', NULL),
                                 ('é', 1, 'gone', NULL), ('é', 3, 'same', x'0203');
            """)
        defer { tmp.remove() }
        // SQLite orders text by its bytes: 'Z' < 'a' < 'é'.
        let rows: [[SQLiteValue]] = [
            [.text("Z"), .integer(1), .text("same"), .blob([1])],
            [.text("a"), .integer(1), .null, .blob([])],
            [.text("a"), .integer(2), .text("new"), .null],
            [.text("a"), .integer(3), .text("added"), .null],
            [.text("é"), .integer(3), .text("same"), .blob([2, 3])],
        ]
        let result = try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: rows)
        #expect(result.written == 2 && result.deleted == 1)
        #expect(try contents(db) == rows)
        #expect(try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: rows) == (0, 0))
    }

    @Test("a value of another storage class differs: the integer 7 is not the text '7', NULL is not empty")
    func storageClasses() throws {
        let (db, tmp) = try table("INSERT INTO t VALUES ('s', 1, '7', NULL), ('s', 2, '', x'')")
        defer { tmp.remove() }
        let rows: [[SQLiteValue]] = [[.text("s"), .integer(1), .text("7"), .blob([])], [.text("s"), .integer(2), .null, .blob([])]]
        #expect(try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: rows) == (2, 0))
        #expect(try contents(db) == rows)
    }

    @Test("rows out of order, or a key stored as REAL, still end as exactly the rows given")
    func orderAndRealKeys() throws {
        let (db, tmp) = try table("INSERT INTO t VALUES ('s', 1, 'a', NULL), ('s', 2, 'b', NULL), ('s', 2.5, 'real', NULL)")
        defer { tmp.remove() }
        let rows: [[SQLiteValue]] = [[.text("s"), .integer(2), .text("b"), .null], [.text("s"), .integer(1), .text("a"), .null]]
        try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: rows)
        #expect(try contents(db) == rows.reversed())
        try db.execute("DELETE FROM t WHERE id = 1")
        #expect(try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: Array(rows.reversed())).written == 1)
        #expect(try contents(db) == rows.reversed())
    }
}
