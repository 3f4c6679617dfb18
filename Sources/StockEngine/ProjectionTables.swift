import SQLite
import StockDomain

/// Reads and writes the projection tables. The in-memory `Projection` is bounded by the
/// catalogue; only the keys an apply changed are written back.
struct ProjectionTables {
    let db: Database

    func load() throws -> Projection {
        let position = try db.scalarInt("SELECT value FROM projection_meta WHERE key = 'position'") ?? 0
        var variants: [VariantDeclaration] = []
        let v = try db.prepare("SELECT data FROM variants")
        while try v.step() {
            if case .variantUpserted(let d) = try v.withBytes(0, decodeStored) { variants.append(d) } else {
                throw EngineError(.io, "\(db.path): corrupt stored variant: not a variant declaration")
            }
        }
        var cells: [CellKey: StockCell] = [:]
        cells.reserveCapacity(Int(try db.scalarInt("SELECT count(*) FROM cells") ?? 0))
        let c = try db.prepare("SELECT variant_id, location_id, in_stock, committed_total, expected, committed_sync, committed_sync_woocommerce FROM cells")
        while try c.step() {
            func q(_ i: Int32) throws -> Quantity {
                guard let q = c.withBytes(i, { Quantity.parseStored($0.assumingMemoryBound(to: UInt8.self)) }) else { throw EngineError(.io, "\(db.path): corrupt quantity in cells") }
                return q
            }
            cells[CellKey(c.int(0), c.int(1))] = StockCell(inStock: try q(2), committedTotal: try q(3), expected: try q(4),
                                                           committedSync: try q(5), committedSyncWooCommerce: try q(6))
        }
        var stores: [StoreState] = []
        let s = try db.prepare("SELECT store, url, location_id, stock_sync, katana_orders_reduce_stock, floor_at_zero, connected FROM stores")
        while try s.step() {
            stores.append(StoreState(settings: StoreSettings(store: s.text(0), url: s.text(1), locationID: s.int(2),
                                                             stockSync: s.int(3) != 0, katanaOrdersReduceStock: s.int(4) != 0,
                                                             floorAtZero: s.int(5) != 0),
                                     connected: s.int(6) != 0))
        }
        var catalogue: [WooProduct] = []
        let p = try db.prepare("SELECT store, woo_id, parent_id, sku, date_created, type FROM catalogue")
        while try p.step() {
            let date = p.optionalText(4).flatMap { text in Instant.parse(text, offsetOptional: true).map { Timestamp(text: text, instant: $0) } }
            catalogue.append(WooProduct(store: p.text(0), wooID: p.int(1), parentID: p.optionalInt(2), sku: p.optionalText(3),
                                        dateCreated: date, type: p.optionalText(5)))
        }
        var pending: [ProductKey: PendingPush] = [:]
        let o = try db.prepare("SELECT store, woo_id, quantity, position FROM outbox")
        while try o.step() { pending[ProductKey(o.text(0), o.int(1))] = PendingPush(quantity: o.int(2), position: o.int(3)) }
        var held: [ProductKey: Int64] = [:]
        let h = try db.prepare("SELECT store, woo_id, quantity FROM held")
        while try h.step() { held[ProductKey(h.text(0), h.int(1))] = h.int(2) }
        return Projection(position: position, variants: variants, cells: cells, stores: stores, catalogue: catalogue,
                          pending: pending, held: held)
    }

    /// A variant row's declaration: binary (`BinaryPayload`) since schema version 5, JSON text
    /// in rows written before.
    func decodeStored(_ bytes: UnsafeRawBufferPointer) throws -> EventPayload {
        do throws(EventError) {
            if BinaryPayload.isBinary(bytes) { return try BinaryPayload.decode(bytes) }
            return try EventCodec.decodeData(type: .variantUpserted, json: bytes.assumingMemoryBound(to: UInt8.self))
        } catch {
            throw EngineError(.io, "\(db.path): corrupt stored variant: \(error)")
        }
    }

    /// Writes the changed keys of `projection` and its position. Keys go in order: B-tree
    /// inserts then walk forward.
    func save(_ projection: inout Projection) throws {
        let changes = projection.takeChanges()
        try write(Table.variants, changes.variants.sorted()) { projection.variants[$0].map(Table.row) }
        try write(Table.cells, changes.allCells ? projection.cells.keys.sorted() : changes.cells.sorted()) {
            Table.row($0, projection.cell($0))
        }
        try write(Table.stores, changes.stores.sorted()) { projection.stores[$0].map(Table.row) }
        if changes.allProducts {
            _ = try replaceProducts(with: projection)
        } else {
            try write(Table.catalogue, changes.products.sorted()) { projection.catalogue[$0].map(Table.row) }
            try write(Table.outbox, changes.pending.sorted()) { key in projection.pending[key].map { Table.row(key, $0) } }
            try write(Table.held, changes.held.sorted()) { key in projection.held[key].map { Table.row(key, $0) } }
        }
        try savePosition(projection.position)
    }

    /// Makes every table hold exactly `projection` (a rebuild), writing only the rows that
    /// differ: over intact tables, a replay reads them and writes next to nothing.
    /// Returns how many rows were written or deleted because they were wrong, and how many
    /// were rewritten only because an older schema version wrote them (variant rows in JSON):
    /// those were right, and an operator told "corrected" after an upgrade would look for a fault.
    func replaceAll(with projection: Projection) throws -> (corrected: Int, reencoded: Int) {
        var reencoded = 0
        let older = try db.prepare("SELECT variant_id, data FROM variants WHERE typeof(data) = 'text'")
        while try older.step() {
            let id = older.int(0)
            if let payload = try? older.withBytes(1, decodeStored), case .variantUpserted(let stored) = payload,
               stored == projection.variants[id] { reencoded += 1 }
        }
        var corrected = -reencoded
        corrected += try replace(Table.variants, projection.variants.keys.sorted()) { projection.variants[$0].map(Table.row) }
        corrected += try replace(Table.cells, projection.cells.keys.sorted()) { Table.row($0, projection.cell($0)) }
        corrected += try replace(Table.stores, projection.stores.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            projection.stores[$0].map(Table.row)
        }
        corrected += try replaceProducts(with: projection)
        try savePosition(projection.position)
        return (corrected, reencoded)
    }

    /// `replaceAll` for the catalogue, outbox and held tables alone.
    private func replaceProducts(with projection: Projection) throws -> Int {
        try replace(Table.catalogue, Table.ordered(projection.catalogue)) { projection.catalogue[$0].map(Table.row) }
            + replace(Table.outbox, Table.ordered(projection.pending)) { key in projection.pending[key].map { Table.row(key, $0) } }
            + replace(Table.held, Table.ordered(projection.held)) { key in projection.held[key].map { Table.row(key, $0) } }
    }

    /// Makes `table` hold the rows of `keys` (in SQLite's order), each made when needed.
    private func replace<Key>(_ table: Table, _ keys: [Key], row: (Key) -> [SQLiteValue]?) throws -> Int {
        try db.replaceRows(of: table, count: keys.count) { i in
            guard let values = row(keys[i]) else { throw EngineError(.failure, "internal: no \(table.name) row for a key of the projection") }
            return values
        }
    }

    /// Writes the row of each key, or deletes it where `row` gives none.
    private func write<Key: TableKey>(_ table: Table, _ keys: [Key], row: (Key) -> [SQLiteValue]?) throws {
        guard !keys.isEmpty else { return }
        let put = try db.prepare(table.insert)
        let delete = try db.prepare(table.delete)
        for key in keys {
            if let values = row(key) { try put.run(values) } else { try delete.run(key.keyValues) }
        }
    }

    private func savePosition(_ position: Int64) throws {
        try db.execute("INSERT OR REPLACE INTO projection_meta (key, value) VALUES ('position', \(position))")
    }
}

/// A projection table's columns, key columns first, and how each kind of value is stored.
struct Table {
    let name: String
    let columns: [String]
    let keyColumns: Int

    static let variants = Table(name: "variants", columns: ["variant_id", "data"], keyColumns: 1)
    static let cells = Table(name: "cells", columns: ["variant_id", "location_id", "in_stock", "committed_total", "expected",
                                                      "committed_sync", "committed_sync_woocommerce"], keyColumns: 2)
    static let stores = Table(name: "stores", columns: ["store", "url", "location_id", "stock_sync", "katana_orders_reduce_stock",
                                                        "floor_at_zero", "connected"], keyColumns: 1)
    static let catalogue = Table(name: "catalogue", columns: ["store", "woo_id", "parent_id", "sku", "date_created", "type"], keyColumns: 2)
    static let outbox = Table(name: "outbox", columns: ["store", "woo_id", "quantity", "position"], keyColumns: 2)
    static let held = Table(name: "held", columns: ["store", "woo_id", "quantity"], keyColumns: 2)
    static let documents = Table(name: "documents", columns: ["kind", "id", "updated_seconds", "updated_nanos", "position", "deleted", "effects"],
                                 keyColumns: 2)

    var insert: String { Database.insertOrReplaceSQL(into: name, columns: columns) }
    var delete: String { Database.deleteSQL(from: name, keys: Array(columns.prefix(keyColumns))) }

    /// The declaration in the journal's binary encoding: decoding JSON was a tenth of loading a
    /// 100,000-variant projection, which every command and every `ingest` call does.
    static func row(_ v: VariantDeclaration) -> [SQLiteValue] { [.integer(v.variantID), .blob(BinaryPayload.encode(.variantUpserted(v)))] }

    /// Quantities as canonical decimal text, in `EffectField` order.
    static func row(_ key: CellKey, _ c: StockCell) -> [SQLiteValue] {
        [.integer(key.variant), .integer(key.location)] + EffectField.allCases.map { .text(c[$0].description) }
    }

    static func row(_ state: StoreState) -> [SQLiteValue] {
        let s = state.settings
        return [.text(s.store), .text(s.url), .integer(s.locationID), .integer(s.stockSync ? 1 : 0),
                .integer(s.katanaOrdersReduceStock ? 1 : 0), .integer(s.floorAtZero ? 1 : 0), .integer(state.connected ? 1 : 0)]
    }

    static func row(_ p: WooProduct) -> [SQLiteValue] {
        [.text(p.store), .integer(p.wooID), p.parentID.map { .integer($0) } ?? .null, p.sku.map { .text($0) } ?? .null,
         p.dateCreated.map { .text($0.text) } ?? .null, p.type.map { .text($0) } ?? .null]
    }

    static func row(_ key: ProductKey, _ entry: PendingPush) -> [SQLiteValue] {
        [.text(key.store), .integer(key.wooID), .integer(entry.quantity), .integer(entry.position)]
    }

    static func row(_ key: ProductKey, _ quantity: Int64) -> [SQLiteValue] { [.text(key.store), .integer(key.wooID), .integer(quantity)] }

    /// The product keys of `entries` in SQLite's order (store by its bytes, then id), so the
    /// merge of `replaceRows` pairs every row. Keys alone are sorted: moving whole entries
    /// (products with their strings) was most of a rebuild's time after the fold.
    static func ordered<V>(_ entries: [ProductKey: V]) -> [ProductKey] {
        entries.keys.sorted { a, b in
            a.store == b.store ? a.wooID < b.wooID : a.store.utf8.lexicographicallyPrecedes(b.store.utf8)
        }
    }
}

/// A key of one of the projection tables, as the values of its key columns.
protocol TableKey { var keyValues: [SQLiteValue] { get } }
extension Int64: TableKey { var keyValues: [SQLiteValue] { [.integer(self)] } }
extension String: TableKey { var keyValues: [SQLiteValue] { [.text(self)] } }
extension CellKey: TableKey { var keyValues: [SQLiteValue] { [.integer(variant), .integer(location)] } }
extension ProductKey: TableKey { var keyValues: [SQLiteValue] { [.text(store), .integer(wooID)] } }

extension Database {
    /// Rows written or deleted to make `table` hold row `i` of `count`, made by `row(i)`.
    func replaceRows(of table: Table, count: Int, row: (Int) throws -> [SQLiteValue]) throws -> Int {
        let (written, deleted) = try replaceRows(of: table.name, columns: table.columns, keyColumns: table.keyColumns, count: count, row: row)
        return written + deleted
    }

    func rowChanges(of table: Table, count: Int, row: (Int) throws -> [SQLiteValue]) throws -> RowChanges {
        try rowChanges(of: table.name, columns: table.columns, keyColumns: table.keyColumns, count: count, row: row)
    }

    func apply(_ plan: RowChanges, to table: Table, row: (Int) throws -> [SQLiteValue]) throws -> Int {
        let (written, deleted) = try apply(plan, to: table.name, columns: table.columns, keyColumns: table.keyColumns, row: row)
        return written + deleted
    }
}

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
