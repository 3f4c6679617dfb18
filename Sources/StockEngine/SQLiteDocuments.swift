import SQLite
import StockDomain

/// Document records kept in the `documents` table, with a write-behind buffer so that a
/// document edited many times in one call is written once; the buffer is flushed well before
/// it could grow with the journal.
final class SQLiteDocuments: DocumentStore {
    private let db: Database
    private let select: Statement
    private let upsert: Statement
    private var buffer = DocumentRecordTable()
    /// Reconciliation records, by position, in order. Each is written once, by the event at
    /// its position, and a fold never reads one back, so they skip the buffer's dictionary,
    /// which they would otherwise swell (45,079 of them among 1,000,000 events in the bench);
    /// their kind sorts last in the table, so they are written after the buffer's records.
    private var reconciliations: [(position: Int64, record: DocumentRecord)] = []
    static let bufferLimit = 200_000
    /// Records held before a flush (`bufferLimit`; tests lower it to reach the flush paths).
    private let limit: Int
    /// A rebuild starts from no records while the table still holds the old ones: they are
    /// never read, and the first flush makes the table match (see `flush`).
    private var rebuilding: Bool
    /// Rows written or deleted so far.
    private(set) var rowsChanged = 0
    /// Whether a rebuild had to empty the table and write every record (more records than
    /// `limit`): then `rowsChanged` counts rewrites, not corrections.
    private(set) var rewroteAll = false

    /// `rebuilding`: the fold starts from position 1 and the table's records are to be replaced.
    init(_ db: Database, rebuilding: Bool = false, limit: Int = SQLiteDocuments.bufferLimit) throws {
        self.db = db
        self.rebuilding = rebuilding
        self.limit = limit
        select = try db.prepare("SELECT updated_seconds, updated_nanos, position, deleted, effects FROM documents WHERE kind = ? AND id = ?")
        upsert = try db.prepare(Table.documents.insert)
    }

    func withRecord<R>(for key: DocumentKey, _ body: (inout DocumentRecord?) throws -> R) throws -> R {
        if key.kind == .reconciliation { return try withNewReconciliation(at: key.id, body) }
        // One lookup: a record not written since the last flush is read from the
        // table into the buffer's slot, and a key nobody has leaves no entry behind.
        let result = try SQLiteDocuments.loadingIfAbsent(&buffer[key]) { record in
            guard !rebuilding else { return }
            select.reset()
            select.bind(Int64(key.kind.rawValue), at: 1)
            select.bind(key.id, at: 2)
            defer { select.reset() }
            if try select.step() { record = try SQLiteDocuments.decode(select) }
        } then: { try body(&$0) }
        try flushIfFull()
        return result
    }

    private func flushIfFull() throws {
        if buffer.count + reconciliations.count >= limit { try flush(final: false) }
    }

    private func withNewReconciliation<R>(at position: Int64, _ body: (inout DocumentRecord?) throws -> R) throws -> R {
        guard position > reconciliations.last?.position ?? .min else {
            throw EngineError(.failure, "internal: reconciliation record at position \(position) written out of order")
        }
        var record: DocumentRecord? = nil
        let result = try body(&record)
        if let record { reconciliations.append((position, record)) }
        try flushIfFull()
        return result
    }

    private static func loadingIfAbsent<R>(_ record: inout DocumentRecord?, _ load: (inout DocumentRecord?) throws -> Void,
                                           then body: (inout DocumentRecord?) throws -> R) throws -> R {
        if record == nil { try load(&record) }
        return try body(&record)
    }

    /// Writes the buffer. The first flush of a rebuild makes the table hold exactly the
    /// rebuilt records: at the end (`final`), by writing only the records that differ and
    /// deleting the rest, so a replay over an intact table writes next to nothing; when the
    /// buffer fills first, by emptying the table, since the records not yet rebuilt are unknown.
    /// `plan`: the final comparison, already made by `plan(reading:)`.
    func flush(final: Bool = true, plan: Plan? = nil) throws {
        if rebuilding {
            rebuilding = false
            if final {
                let plan = try plan ?? comparison(reading: db)
                rowsChanged += try db.apply(plan.changes, to: Table.documents) { try row(plan.ordered, $0) }
                buffer.removeAll()
                reconciliations.removeAll(keepingCapacity: true)
                return
            }
            try db.execute("DELETE FROM documents")
            rewroteAll = true
        }
        let ordered = orderedKeys()
        for i in 0..<(ordered.count + reconciliations.count) { try upsert.run(try row(ordered, i)) }
        rowsChanged += ordered.count + reconciliations.count
        buffer.removeAll()
        reconciliations.removeAll(keepingCapacity: true)
    }

    /// The final flush's comparison of a rebuild, made by reading the table through `reader`,
    /// another connection that sees the same committed table (nil: not a rebuild's final flush,
    /// or the table was already written in this transaction). Nothing else may use this store
    /// meanwhile; the connection it writes through is free for other work.
    func plan(reading reader: Database) throws -> Plan? {
        guard rebuilding else { return nil }
        return try comparison(reading: reader)
    }

    /// A rebuild's final flush, planned: the buffer's keys in the table's order (the
    /// reconciliation records follow them), and the rows that differ.
    struct Plan: Sendable {
        let ordered: [DocumentKey]
        let changes: RowChanges
    }

    private func comparison(reading reader: Database) throws -> Plan {
        let ordered = orderedKeys()
        let changes = try reader.readTransaction {
            try reader.rowChanges(of: Table.documents, count: ordered.count + reconciliations.count) { try row(ordered, $0) }
        }
        return Plan(ordered: ordered, changes: changes)
    }

    private func orderedKeys() -> [DocumentKey] {
        // Keys alone are sorted: moving whole records costs more than looking each one up again.
        buffer.keys.sorted { ($0.kind.rawValue, $0.id) < ($1.kind.rawValue, $1.id) }
    }

    /// Row `i` in the table's order: the buffer's records (`ordered`), then the reconciliations.
    private func row(_ ordered: [DocumentKey], _ i: Int) throws -> [SQLiteValue] {
        guard i < ordered.count else {
            let (position, record) = reconciliations[i - ordered.count]
            return SQLiteDocuments.row(DocumentKey(.reconciliation, position), record)
        }
        guard let record = buffer[ordered[i]] else { throw EngineError(.failure, "internal: document record vanished while written") }
        return SQLiteDocuments.row(ordered[i], record)
    }

    /// A record as its row of the `documents` table.
    static func row(_ key: DocumentKey, _ record: DocumentRecord) -> [SQLiteValue] {
        [.integer(Int64(key.kind.rawValue)), .integer(key.id),
         record.updatedAt.map { .integer($0.seconds) } ?? .null, record.updatedAt.map { .integer(Int64($0.nanoseconds)) } ?? .null,
         .integer(record.position), .integer(record.deleted ? 1 : 0), .blob(record.effects.packed)]
    }

    /// Decodes the current row of a statement selecting
    /// `updated_seconds, updated_nanos, position, deleted, effects`.
    static func decode(_ s: Statement, offset: Int32 = 0) throws -> DocumentRecord {
        let updated = s.isNull(offset) ? nil : Instant(seconds: s.int(offset), nanoseconds: Int32(s.int(offset + 1)))
        guard let effects = s.withBytes(offset + 4, { EffectList(packed: $0) }) else {
            throw EngineError(.io, "corrupt document record (its effects do not decode); run `stocksync replay` to rebuild it")
        }
        return DocumentRecord(updatedAt: updated, position: s.int(offset + 2), deleted: s.int(offset + 3) != 0, effects: effects)
    }
}
