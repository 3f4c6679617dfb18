import CSQLite

extension Database {
    /// Makes `table` hold exactly `rows` (each `columns` in order, key columns first, sorted by
    /// key as SQLite orders them), writing only the rows that differ and deleting the rest.
    /// Values are compared by storage class and bytes, so give them as the column's affinity
    /// stores them (text for a TEXT column): a value SQLite converts on the way in is written
    /// again on every call (correct, only slower).
    ///
    /// A rebuild over intact tables then reads them instead of rewriting them: SQLite reads
    /// rows an order of magnitude faster than it writes them, and nothing reaches the WAL.
    /// Correctness does not depend on the order of `rows`: a key the merge fails to pair is
    /// deleted and written again, so only the amount of writing does.
    @discardableResult
    public func replaceRows(of table: String, columns: [String], keyColumns: Int, with rows: [[SQLiteValue]]) throws -> (written: Int, deleted: Int) {
        try replaceRows(of: table, columns: columns, keyColumns: keyColumns, count: rows.count) { rows[$0] }
    }

    /// `replaceRows(of:columns:keyColumns:with:)` with row `i` made by `row(i)` when needed, so
    /// a large table's rows are never all in memory at once.
    @discardableResult
    public func replaceRows(of table: String, columns: [String], keyColumns: Int, count: Int,
                            row: (Int) throws -> [SQLiteValue]) throws -> (written: Int, deleted: Int) {
        let plan = try rowChanges(of: table, columns: columns, keyColumns: keyColumns, count: count, row: row)
        return try apply(plan, to: table, columns: columns, keyColumns: keyColumns, row: row)
    }

    /// The first half of `replaceRows`: which rows differ, found by reading the table alone.
    /// Another connection may make the plan (a reader on another thread, seeing the same
    /// committed table), while this one does other work; `apply` then makes the changes.
    public func rowChanges(of table: String, columns: [String], keyColumns: Int, count: Int,
                           row: (Int) throws -> [SQLiteValue]) throws -> RowChanges {
        let select = try prepare("SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY \(columns.prefix(keyColumns).joined(separator: ", "))")
        defer { select.reset() }
        // Decisions first, changes after: SQLite does not promise what a cursor sees of rows
        // changed under it.
        var plan = RowChanges()
        var next = 0
        var current = count > 0 ? try row(0) : []
        func advance() throws {
            next += 1
            current = next < count ? try row(next) : []
        }
        while try select.step() {
            // A key stored as REAL (not something these tables write) cannot be named in a
            // DELETE reliably: start from an empty table instead.
            if (0..<Int32(keyColumns)).contains(where: { select.isReal($0) }) {
                return RowChanges(emptiesTable: true, deletes: [], writes: Array(0..<count))
            }
            while next < count && select.compareKey(keyColumns, to: current) > 0 {
                plan.writes.append(next)
                try advance()
            }
            if next < count && select.compareKey(keyColumns, to: current) == 0 {
                if !(keyColumns..<columns.count).allSatisfy({ select.holds(current[$0], at: Int32($0)) }) { plan.writes.append(next) }
                try advance()
            } else {
                plan.deletes.append((0..<keyColumns).map { select.value(at: Int32($0)) })
            }
        }
        plan.writes.append(contentsOf: next..<count)
        return plan
    }

    /// The second half of `replaceRows`: makes the changes `plan` found, on this connection.
    @discardableResult
    public func apply(_ plan: RowChanges, to table: String, columns: [String], keyColumns: Int,
                      row: (Int) throws -> [SQLiteValue]) throws -> (written: Int, deleted: Int) {
        if plan.emptiesTable { try execute("DELETE FROM \(table)") }
        if !plan.deletes.isEmpty {
            let delete = try prepare(Database.deleteSQL(from: table, keys: Array(columns.prefix(keyColumns))))
            for key in plan.deletes { try delete.run(key) }
        }
        if !plan.writes.isEmpty {
            let put = try prepare(Database.insertOrReplaceSQL(into: table, columns: columns))
            for i in plan.writes { try put.run(try row(i)) }
        }
        return (plan.writes.count, plan.deletes.count)
    }

    /// `INSERT OR REPLACE` of one row of `columns`, bound in order.
    public static func insertOrReplaceSQL(into table: String, columns: [String]) -> String {
        "INSERT OR REPLACE INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
    }

    /// `DELETE` of the row whose `keys` equal the values bound in order.
    public static func deleteSQL(from table: String, keys: [String]) -> String {
        "DELETE FROM \(table) WHERE " + keys.enumerated().map { "\($1) = ?\($0 + 1)" }.joined(separator: " AND ")
    }
}

/// What `Database.rowChanges` found: the rows to write (by index) and the keys to delete.
public struct RowChanges: Sendable {
    /// A key was stored as REAL: the table is emptied and every row written.
    public var emptiesTable = false
    public var deletes: [[SQLiteValue]] = []
    public var writes: [Int] = []
}

extension Statement {
    func isReal(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_FLOAT }

    /// The current row's value in `column` (REAL, which `SQLiteValue` does not carry, reads as text).
    public func value(at column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_NULL: return .null
        case SQLITE_INTEGER: return .integer(int(column))
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .text(text(column))
        }
    }

    /// Whether the current row holds exactly `value` in `column`: same storage class, same
    /// bytes (a REAL never equals a `SQLiteValue`).
    func holds(_ value: SQLiteValue, at column: Int32) -> Bool {
        let type = sqlite3_column_type(handle, column)
        switch value {
        case .null: return type == SQLITE_NULL
        case .integer(let v): return type == SQLITE_INTEGER && int(column) == v
        case .text(let s):
            guard type == SQLITE_TEXT else { return false }
            var copy = s
            return copy.withUTF8 { utf8 in withBytes(column) { $0.elementsEqual(UnsafeRawBufferPointer(utf8)) } }
        case .blob(let b): return type == SQLITE_BLOB && withBytes(column) { $0.elementsEqual(b) }
        }
    }

    /// Compares the current row's first `count` columns with the start of `row`, the way SQLite
    /// orders them (NULL, then integers, then text and blobs by their bytes; keys stored as
    /// REAL never get here).
    func compareKey(_ count: Int, to row: [SQLiteValue]) -> Int {
        for i in 0..<count {
            let c = compare(column: Int32(i), row[i])
            if c != 0 { return c }
        }
        return 0
    }

    private func compare(column: Int32, _ value: SQLiteValue) -> Int {
        func rank(_ type: Int32) -> Int {
            switch type {
            case SQLITE_NULL: return 0
            case SQLITE_INTEGER: return 1
            case SQLITE_TEXT: return 2
            default: return 3
            }
        }
        let type = sqlite3_column_type(handle, column)
        let other: Int
        switch value {
        case .null: other = 0
        case .integer: other = 1
        case .text: other = 2
        case .blob: other = 3
        }
        if rank(type) != other { return rank(type) < other ? -1 : 1 }
        func bytes(_ b: UnsafeRawBufferPointer) -> Int {
            withBytes(column) { mine in
                if mine.lexicographicallyPrecedes(b) { return -1 }
                return b.lexicographicallyPrecedes(mine) ? 1 : 0
            }
        }
        switch value {
        case .null: return 0
        case .integer(let v):
            let mine = int(column)
            return mine < v ? -1 : mine > v ? 1 : 0
        case .text(let s):
            var copy = s
            return copy.withUTF8 { bytes(UnsafeRawBufferPointer($0)) }
        case .blob(let b): return b.withUnsafeBytes { bytes($0) }
        }
    }
}
