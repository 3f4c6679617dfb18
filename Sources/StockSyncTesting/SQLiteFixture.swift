import SQLite

/// Direct SQL on a database file, for tests that tamper with or fake databases.
public struct SQLiteFixture {
    let db: Database
    public init(path: String) throws { db = try Database(path: path) }
    public func execute(_ sql: String) throws { try db.execute(sql) }
}
