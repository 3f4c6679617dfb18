import CSQLite
import Foundation

/// An error from SQLite, with the result code and the message SQLite gave.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let statement: String?

    /// The primary result code (SQLITE_BUSY, SQLITE_NOTADB, ...), without extended bits.
    public var primaryCode: Int32 { code & 0xFF }
    public var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    public var isNotADatabase: Bool { primaryCode == SQLITE_NOTADB || primaryCode == SQLITE_CORRUPT }

    public var description: String {
        if let statement { return "SQLite error \(code): \(message) (in: \(statement.prefix(80)))" }
        return "SQLite error \(code): \(message)"
    }
}

/// One connection to an SQLite database file. Not shared across tasks: each owner opens its own.
public final class Database {
    let handle: OpaquePointer
    public let path: String

    public enum Mode: Sendable { case readOnly, readWrite, readWriteCreate }

    /// Opens `path`. WAL journaling and a busy timeout are set for writable connections so that
    /// concurrent writers queue on SQLite's own lock instead of failing at once.
    public init(path: String, mode: Mode = .readWriteCreate, busyTimeoutMilliseconds: Int32 = 5_000) throws {
        Database.configureLibrary
        var db: OpaquePointer?
        let flags: Int32
        switch mode {
        case .readOnly: flags = SQLITE_OPEN_READONLY
        case .readWrite: flags = SQLITE_OPEN_READWRITE
        case .readWriteCreate: flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, statement: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        // A bounded page cache large enough that one big transaction does not spill dirty
        // pages into the WAL and read them back. A fixed cap: memory does not grow with the file.
        sqlite3_exec(db, "PRAGMA cache_size = -\(Database.cacheKiB)", nil, nil, nil)
    }

    /// Runs `body` with writers waited for up to `milliseconds` instead of the connection's own
    /// busy timeout, which is set back afterwards.
    public func waitingForWriters<T>(upTo milliseconds: Int32, restoring usual: Int32, _ body: () throws -> T) rethrows -> T {
        sqlite3_busy_timeout(handle, milliseconds)
        defer { sqlite3_busy_timeout(handle, usual) }
        return try body()
    }

    /// Sets the page size of a new, empty file (SQLite ignores it once the file has pages).
    /// The cache's size is set again: SQLite reckoned it in pages of the old size, and the
    /// cache of a file with 16 KiB pages would otherwise hold four times the memory asked for.
    public func setPageSize(_ bytes: Int) throws {
        try execute("PRAGMA page_size = \(bytes); PRAGMA cache_size = -\(Database.cacheKiB)")
    }

    /// The memory this connection's page cache holds now, in bytes.
    public var pageCacheBytes: Int {
        var used: Int32 = 0, highest: Int32 = 0
        sqlite3_db_status(handle, SQLITE_DBSTATUS_CACHE_USED, &used, &highest, 0)
        return Int(used)
    }

    /// Process-wide settings, made once before the first connection: SQLite accepts them only
    /// before it initialises itself.
    private static let configureLibrary: Void = {
        _ = csqlite_disable_memory_statistics()
        _ = csqlite_disable_uri_filenames()
    }()

    /// Page cache per connection, in KiB.
    public static let cacheKiB = 32_768

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &error)
        if rc != SQLITE_OK {
            let message = error.map { String(cString: $0) } ?? String(cString: sqlite3_errmsg(handle))
            sqlite3_free(error)
            throw SQLiteError(code: rc, message: message, statement: sql)
        }
    }

    public func prepare(_ sql: String) throws -> Statement {
        try Statement(database: self, sql: sql)
    }

    /// The first column of the first row, as an integer; nil when there is no row or it is NULL.
    public func scalarInt(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> Int64? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int(0)
    }

    public func scalarText(_ sql: String, _ bindings: [SQLiteValue] = []) throws -> String? {
        let statement = try prepare(sql)
        try statement.bind(bindings)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.text(0)
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken up front, so a
    /// transaction never fails half-way for lack of it; any thrown error rolls everything back.
    public func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in one read snapshot. Nested calls join the outer transaction.
    public func readTransaction<T>(_ body: () throws -> T) throws -> T {
        if sqlite3_get_autocommit(handle) == 0 { return try body() }
        try execute("BEGIN DEFERRED")
        defer { try? execute("COMMIT") }
        return try body()
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }

    func error(_ code: Int32, _ sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), statement: sql)
    }
}

/// A value bound to a statement parameter.
public enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case text(String)
    case blob([UInt8])
}

/// A prepared statement, reused across executions (reset between them).
public final class Statement {
    let handle: OpaquePointer
    unowned let database: Database
    let sql: String

    init(database: Database, sql: String) throws {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(database.handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw database.error(rc, sql) }
        self.handle = statement
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and binds `values` to parameters 1...n.
    public func bind(_ values: [SQLiteValue]) throws {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    public func reset() {
        sqlite3_reset(handle)
    }

    public func bind(_ value: SQLiteValue, at index: Int32) throws {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let v): rc = sqlite3_bind_int64(handle, index, v)
        case .text(let s): rc = bindText(s, at: index)
        case .blob(let bytes):
            rc = bytes.withUnsafeBytes { raw in
                sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), csqlite_transient())
            }
        }
        guard rc == SQLITE_OK else { throw database.error(rc, sql) }
    }

    public func bind(_ value: Int64, at index: Int32) {
        sqlite3_bind_int64(handle, index, value)
    }

    public func bind(_ value: String, at index: Int32) {
        _ = bindText(value, at: index)
    }

    /// Binds the string's own UTF-8 bytes where it has them in one piece (native strings do):
    /// passing a String as a C string would copy it into a fresh array first. An empty string
    /// may have no address, which SQLite would take for NULL: it goes the C-string way.
    private func bindText(_ value: String, at index: Int32) -> Int32 {
        let bound = value.utf8.withContiguousStorageIfAvailable { utf8 -> Int32? in
            guard let base = utf8.baseAddress, !utf8.isEmpty else { return nil }
            return sqlite3_bind_text(handle, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count), csqlite_transient())
        }
        return (bound ?? nil) ?? sqlite3_bind_text(handle, index, value, -1, csqlite_transient())
    }

    public func bindNull(at index: Int32) {
        sqlite3_bind_null(handle, index)
    }

    public func bind(bytes: UnsafeRawBufferPointer, at index: Int32) {
        sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), csqlite_transient())
    }

    /// Advances to the next row: true when a row is available, false when done.
    @discardableResult
    public func step() throws -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows, then resets it for reuse.
    public func run(_ values: [SQLiteValue] = []) throws {
        try bind(values)
        try step()
        sqlite3_reset(handle)
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }
    public func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    public func text(_ column: Int32) -> String {
        guard let pointer = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }
    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }
    public func optionalInt(_ column: Int32) -> Int64? { isNull(column) ? nil : int(column) }

    /// The column's bytes, valid until the next step or reset.
    public func withBytes<T>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        let pointer = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func blob(_ column: Int32) -> [UInt8] {
        withBytes(column) { Array($0) }
    }
}
