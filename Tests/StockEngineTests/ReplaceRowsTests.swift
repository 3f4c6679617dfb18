import SQLite
import StockSyncTesting
import Testing

@Suite("Making a table hold given rows, writing only the differences")
struct ReplaceRowsTests {
    /// `note` and `data` have no type, so no affinity converts what is stored in them.
    func table(_ setup: String) throws -> (Database, TemporaryDirectory) {
        let tmp = TemporaryDirectory()
        let db = try Database(path: tmp.path("t.db"))
        try db.execute("CREATE TABLE t (store TEXT NOT NULL, id INTEGER NOT NULL, note, data, PRIMARY KEY (store, id)) WITHOUT ROWID;" + setup)
        return (db, tmp)
    }

    func contents(_ db: Database) throws -> [[SQLiteValue]] {
        let s = try db.prepare("SELECT store, id, note, data FROM t ORDER BY store, id")
        var rows: [[SQLiteValue]] = []
        while try s.step() { rows.append((0..<4).map { s.value(at: $0) }) }
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

    @Test("the comparison can be made on a second connection, in WAL, while the first holds a write transaction; applied on the first, it gives the same table")
    func planOnAnotherConnection() throws {
        let (db, tmp) = try table("PRAGMA journal_mode=WAL; INSERT INTO t VALUES ('a', 1, 'keep', NULL), ('a', 2, 'old', NULL), ('b', 1, 'gone', NULL)")
        defer { tmp.remove() }
        let rows: [[SQLiteValue]] = [[.text("a"), .integer(1), .text("keep"), .null], [.text("a"), .integer(2), .text("new"), .null],
                                     [.text("c"), .integer(1), .text("added"), .blob([9])]]
        let result = try db.writeTransaction { () throws -> (written: Int, deleted: Int) in
            let reader = try Database(path: tmp.path("t.db"), mode: .readOnly)
            let plan = try reader.readTransaction { try reader.rowChanges(of: "t", columns: columns, keyColumns: 2, count: rows.count) { rows[$0] } }
            #expect(plan.writes == [1, 2] && plan.deletes == [[.text("b"), .integer(1)]] && !plan.emptiesTable)
            return try db.apply(plan, to: "t", columns: columns, keyColumns: 2) { rows[$0] }
        }
        #expect(result.written == 2 && result.deleted == 1)
        #expect(try contents(db) == rows)
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

    static let seeds: ClosedRange<UInt64> = 1...5

    @Test("random tables and random targets: the table ends as the target, touching exactly the rows that differ", arguments: Soak.seeds(ReplaceRowsTests.seeds))
    func randomized(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        let stores = ["a", "B", "é", "a b", "ab", ""]
        func value() -> SQLiteValue {
            switch Int.random(in: 0..<4, using: &random) {
            case 0: return .null
            case 1: return .integer(Int64.random(in: -2...2, using: &random))
            case 2: return .text(["", "x", "7", "é"].randomElement(using: &random) ?? "")
            default: return .blob(Array(repeating: 1, count: Int.random(in: 0...2, using: &random)))
            }
        }
        // Most rows stay, some lose or change one column, some go, some arrive.
        var before: [String: [SQLiteValue]] = [:]
        var after: [String: [SQLiteValue]] = [:]
        for store in stores {
            for id in Int64(-3)...6 {
                let key = "\(store)|\(id)"
                let old: [SQLiteValue] = [.text(store), .integer(id), value(), value()]
                let present = Double.random(in: 0..<1, using: &random) < 0.7
                if present { before[key] = old }
                switch Double.random(in: 0..<1, using: &random) {
                case ..<0.15: break
                case ..<0.6: if present { after[key] = old }
                default:
                    var new = old
                    new[Int.random(in: 2...3, using: &random)] = value()
                    after[key] = new
                }
            }
        }
        let (db, tmp) = try table("")
        defer { tmp.remove() }
        let insert = try db.prepare("INSERT INTO t VALUES (?, ?, ?, ?)")
        for row in before.values { try insert.run(row) }
        // In SQLite's order: the store's bytes, then the id.
        let target = after.values.sorted { a, b in
            guard case .text(let x) = a[0], case .text(let y) = b[0], case .integer(let i) = a[1], case .integer(let j) = b[1] else { return false }
            return x == y ? i < j : x.utf8.lexicographicallyPrecedes(y.utf8)
        }
        let result = try db.replaceRows(of: "t", columns: columns, keyColumns: 2, with: target)
        #expect(try contents(db) == target)
        let changed = after.filter { before[$0.key] != $0.value }.count
        let removed = before.keys.filter { after[$0] == nil }.count
        if Self.seeds.contains(seed) {
            // These seeds are chosen to reach every case; a soak seed may miss one.
            #expect(changed > 10 && removed > 3 && after.count - changed > 10, "a history that exercises every case")
        }
        #expect(result.written == changed && result.deleted == removed, "written \(result.written) of \(changed), deleted \(result.deleted) of \(removed)")
    }
}
