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
            if case .variantUpserted(let d) = try decodeStored(.variantUpserted, v.text(0)) { variants.append(d) }
        }
        var cells: [CellKey: StockCell] = [:]
        let c = try db.prepare("SELECT variant_id, location_id, in_stock, committed_total, expected, committed_sync, committed_sync_woocommerce FROM cells")
        while try c.step() {
            func q(_ i: Int32) throws -> Quantity {
                guard let q = Quantity.parse(c.text(i)) else { throw EngineError(.io, "\(db.path): corrupt quantity in cells") }
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

    func decodeStored(_ type: EventType, _ text: String) throws -> EventPayload {
        var copy = text
        let result: Result<EventPayload, EventError> = copy.withUTF8 { buffer in
            do throws(EventError) { return .success(try EventCodec.decodeData(type: type, json: buffer)) } catch { return .failure(error) }
        }
        switch result {
        case .success(let payload): return payload
        case .failure(let error): throw EngineError(.io, "\(db.path): corrupt stored payload: \(error)")
        }
    }

    /// Writes the changed keys of `projection` (every key when it does not track changes, as
    /// in a rebuild) and its position. Keys go in order: B-tree inserts then walk forward.
    func save(_ projection: inout Projection) throws {
        let changes = projection.tracksChanges ? projection.takeChanges() : projection.everything
        if !changes.variants.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO variants (variant_id, data) VALUES (?, ?)")
            let delete = try db.prepare("DELETE FROM variants WHERE variant_id = ?")
            for id in changes.variants.sorted() {
                if let v = projection.variants[id] {
                    try put.run([.integer(id), .text(EventCodec.encodeData(.variantUpserted(v)))])
                } else {
                    try delete.run([.integer(id)])
                }
            }
        }
        if changes.allCells || !changes.cells.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?, ?, ?)")
            // A rebuild writes every cell: quantities are formatted into one reused buffer.
            var text: [UInt8] = []
            for key in (changes.allCells ? Array(projection.cells.keys) : Array(changes.cells)).sorted() {
                let c = projection.cell(key)
                put.reset()
                put.bind(key.variant, at: 1)
                put.bind(key.location, at: 2)
                // Columns 3...7 are the fields in `EffectField` order.
                for field in EffectField.allCases {
                    text.removeAll(keepingCapacity: true)
                    c[field].appendCanonical(to: &text)
                    text.withUnsafeBytes { put.bind(utf8: $0, at: Int32(field.rawValue) + 3) }
                }
                try put.step()
            }
            put.reset()
        }
        if !changes.stores.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO stores VALUES (?, ?, ?, ?, ?, ?, ?)")
            for id in changes.stores.sorted() {
                guard let state = projection.stores[id] else { continue }
                let s = state.settings
                try put.run([.text(id), .text(s.url), .integer(s.locationID), .integer(s.stockSync ? 1 : 0),
                             .integer(s.katanaOrdersReduceStock ? 1 : 0), .integer(s.floorAtZero ? 1 : 0),
                             .integer(state.connected ? 1 : 0)])
            }
        }
        if !changes.products.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO catalogue VALUES (?, ?, ?, ?, ?, ?)")
            let delete = try db.prepare("DELETE FROM catalogue WHERE store = ? AND woo_id = ?")
            for key in changes.products.sorted() {
                if let p = projection.catalogue[key] {
                    try put.run([.text(p.store), .integer(p.wooID), p.parentID.map { .integer($0) } ?? .null,
                                 p.sku.map { .text($0) } ?? .null, p.dateCreated.map { .text($0.text) } ?? .null,
                                 p.type.map { .text($0) } ?? .null])
                } else {
                    try delete.run([.text(key.store), .integer(key.wooID)])
                }
            }
        }
        if !changes.pending.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO outbox VALUES (?, ?, ?, ?)")
            let delete = try db.prepare("DELETE FROM outbox WHERE store = ? AND woo_id = ?")
            for key in changes.pending.sorted() {
                if let entry = projection.pending[key] {
                    try put.run([.text(key.store), .integer(key.wooID), .integer(entry.quantity), .integer(entry.position)])
                } else {
                    try delete.run([.text(key.store), .integer(key.wooID)])
                }
            }
        }
        if !changes.held.isEmpty {
            let put = try db.prepare("INSERT OR REPLACE INTO held VALUES (?, ?, ?)")
            let delete = try db.prepare("DELETE FROM held WHERE store = ? AND woo_id = ?")
            for key in changes.held.sorted() {
                if let value = projection.held[key] {
                    try put.run([.text(key.store), .integer(key.wooID), .integer(value)])
                } else {
                    try delete.run([.text(key.store), .integer(key.wooID)])
                }
            }
        }
        try db.execute("INSERT OR REPLACE INTO projection_meta (key, value) VALUES ('position', \(projection.position))")
    }

    func clear() throws {
        for table in Schema.projectionTableNames { try db.execute("DELETE FROM \(table)") }
        try db.execute("DELETE FROM projection_meta")
    }
}

/// Document records kept in the `documents` table, with a write-behind buffer so that a
/// document edited many times in one call is written once; the buffer is flushed well before
/// it could grow with the journal.
final class SQLiteDocuments: DocumentStore {
    private let select: Statement
    private let upsert: Statement
    private var buffer: [DocumentKey: DocumentRecord] = [:]
    static let bufferLimit = 200_000

    init(_ db: Database) throws {
        select = try db.prepare("SELECT updated_seconds, updated_nanos, position, deleted, effects FROM documents WHERE kind = ? AND id = ?")
        upsert = try db.prepare("INSERT OR REPLACE INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)")
    }

    func withRecord<R>(for key: DocumentKey, _ body: (inout DocumentRecord?) throws -> R) throws -> R {
        // One dictionary access: a record not written since the last flush is read from the
        // table into the buffer's slot, and a key nobody has leaves no entry behind.
        let result = try SQLiteDocuments.loadingIfAbsent(&buffer[key]) { record in
            select.reset()
            select.bind(Int64(key.kind.rawValue), at: 1)
            select.bind(key.id, at: 2)
            defer { select.reset() }
            if try select.step() { record = try SQLiteDocuments.decode(select) }
        } then: { try body(&$0) }
        if buffer.count >= SQLiteDocuments.bufferLimit { try flush() }
        return result
    }

    private static func loadingIfAbsent<R>(_ record: inout DocumentRecord?, _ load: (inout DocumentRecord?) throws -> Void,
                                           then body: (inout DocumentRecord?) throws -> R) throws -> R {
        if record == nil { try load(&record) }
        return try body(&record)
    }

    func flush() throws {
        for (key, record) in buffer.sorted(by: { ($0.key.kind.rawValue, $0.key.id) < ($1.key.kind.rawValue, $1.key.id) }) {
            upsert.reset()
            upsert.bind(Int64(key.kind.rawValue), at: 1)
            upsert.bind(key.id, at: 2)
            if let u = record.updatedAt {
                upsert.bind(u.seconds, at: 3)
                upsert.bind(Int64(u.nanoseconds), at: 4)
            } else {
                upsert.bindNull(at: 3)
                upsert.bindNull(at: 4)
            }
            upsert.bind(record.position, at: 5)
            upsert.bind(record.deleted ? 1 : 0, at: 6)
            record.effects.packed.withUnsafeBytes { upsert.bind(bytes: $0, at: 7) }
            try upsert.step()
        }
        upsert.reset()
        buffer.removeAll(keepingCapacity: true)
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
