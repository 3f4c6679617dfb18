import SQLite
import StockDomain

/// Direct SQL on a database file, for tests that tamper with or fake databases.
public struct SQLiteFixture {
    let db: Database
    public init(path: String) throws { db = try Database(path: path) }
    public func execute(_ sql: String) throws { try db.execute(sql) }

    /// The first column of every row, as text.
    public func strings(_ sql: String) throws -> [String] {
        let s = try db.prepare(sql)
        var out: [String] = []
        while try s.step() { out.append(s.text(0)) }
        return out
    }

    /// Turns the journal back into what schema version 2 wrote: canonical JSON text payloads.
    public func rewriteJournalPayloadsAsJSON() throws {
        let read = try db.prepare("SELECT position, data FROM journal ORDER BY position")
        var rows: [(Int64, String)] = []
        while try read.step() {
            let payload = try read.withBytes(1) { raw in try BinaryPayload.decode(raw) }
            rows.append((read.int(0), EventCodec.encodeData(payload)))
        }
        let write = try db.prepare("UPDATE journal SET data = ? WHERE position = ?")
        for (position, json) in rows { try write.run([.text(json), .integer(position)]) }
    }
}
