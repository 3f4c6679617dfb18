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
        let cells = try loadCells()
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
        return Projection(position: position, variants: variants, cells: cells, stores: stores, catalogue: catalogue,
                          pending: try loadPending(), held: try loadHeld())
    }

    /// `cached` brought to `position` by reading only the tables written since its own
    /// position (their marks say which), or nil when a whole load is needed: the variants,
    /// stores or catalogue changed (the matching indices come from them). A `sync` daemon
    /// reloads after every other process's write; most of those (an `ingest` of stock changes)
    /// touch cells and the outbox only, which read in a fraction of a whole load.
    ///
    /// Only for a file at schema version 6 or later when `cached` was read: every write since
    /// a file reached it marks its tables, so a table without a mark has not changed since.
    /// (An older file may still be written by an older build, which marks nothing.)
    func advance(_ cached: Projection, to position: Int64) throws -> Projection? {
        guard cached.position < position else { return nil }
        var changedAt: [String: Int64] = [:]
        let m = try db.prepare("SELECT key, value FROM projection_meta WHERE key LIKE 'changed:%'")
        while try m.step() { changedAt[m.text(0)] = m.int(1) }
        func changed(_ table: Table) -> Bool { changedAt[Table.markKey(table), default: 0] > cached.position }
        if changed(Table.variants) || changed(Table.stores) || changed(Table.catalogue) { return nil }
        var advanced = cached
        advanced.advance(to: position, cells: changed(Table.cells) ? try loadCells() : nil,
                         pending: changed(Table.outbox) ? try loadPending() : nil, held: changed(Table.held) ? try loadHeld() : nil)
        return advanced
    }

    private func loadCells() throws -> [CellKey: StockCell] {
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
        return cells
    }

    private func loadPending() throws -> [ProductKey: PendingPush] {
        var pending: [ProductKey: PendingPush] = [:]
        let o = try db.prepare("SELECT store, woo_id, quantity, position FROM outbox")
        while try o.step() { pending[ProductKey(o.text(0), o.int(1))] = PendingPush(quantity: o.int(2), position: o.int(3)) }
        return pending
    }

    private func loadHeld() throws -> [ProductKey: Int64] {
        var held: [ProductKey: Int64] = [:]
        let h = try db.prepare("SELECT store, woo_id, quantity FROM held")
        while try h.step() { held[ProductKey(h.text(0), h.int(1))] = h.int(2) }
        return held
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
        var written: [Table] = []
        try write(Table.variants, changes.variants.sorted(), noting: &written) { projection.variants[$0].map(Table.row) }
        try write(Table.cells, changes.allCells ? projection.cells.keys.sorted() : changes.cells.sorted(), noting: &written) {
            Table.row($0, projection.cell($0))
        }
        try write(Table.stores, changes.stores.sorted(), noting: &written) { projection.stores[$0].map(Table.row) }
        if changes.allProducts {
            written += try replaceProducts(with: projection).filter { $0.rows > 0 }.map(\.table)
        } else {
            try write(Table.catalogue, changes.products.sorted(), noting: &written) { projection.catalogue[$0].map(Table.row) }
            try write(Table.outbox, changes.pending.sorted(), noting: &written) { key in projection.pending[key].map { Table.row(key, $0) } }
            try write(Table.held, changes.held.sorted(), noting: &written) { key in projection.held[key].map { Table.row(key, $0) } }
        }
        try savePosition(projection.position, changed: written)
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
        corrected += try replaceProducts(with: projection).map(\.rows).reduce(0, +)
        // Every table is marked: a rebuild's projection is new to every process.
        try savePosition(projection.position, changed: Table.projection)
        return (corrected, reencoded)
    }

    /// `replaceAll` for the catalogue, outbox and held tables alone: how many rows each had
    /// to change.
    private func replaceProducts(with projection: Projection) throws -> [(table: Table, rows: Int)] {
        [
            (Table.catalogue, try replace(Table.catalogue, Table.ordered(projection.catalogue)) { projection.catalogue[$0].map(Table.row) }),
            (Table.outbox, try replace(Table.outbox, Table.ordered(projection.pending)) { key in projection.pending[key].map { Table.row(key, $0) } }),
            (Table.held, try replace(Table.held, Table.ordered(projection.held)) { key in projection.held[key].map { Table.row(key, $0) } }),
        ]
    }

    /// Makes `table` hold the rows of `keys` (in SQLite's order), each made when needed.
    private func replace<Key>(_ table: Table, _ keys: [Key], row: (Key) -> [SQLiteValue]?) throws -> Int {
        try db.replaceRows(of: table, count: keys.count) { i in
            guard let values = row(keys[i]) else { throw EngineError(.failure, "internal: no \(table.name) row for a key of the projection") }
            return values
        }
    }

    /// Writes the row of each key, or deletes it where `row` gives none; notes the table in
    /// `written` when there was any.
    private func write<Key: TableKey>(_ table: Table, _ keys: [Key], noting written: inout [Table], row: (Key) -> [SQLiteValue]?) throws {
        guard !keys.isEmpty else { return }
        written.append(table)
        let put = try db.prepare(table.insert)
        let delete = try db.prepare(table.delete)
        for key in keys {
            if let values = row(key) { try put.run(values) } else { try delete.run(key.keyValues) }
        }
    }

    /// Records the position the tables reflect, and for each table in `changed` that it was
    /// written at this position (what `advance` reads).
    private func savePosition(_ position: Int64, changed: [Table]) throws {
        let put = try db.prepare("INSERT OR REPLACE INTO projection_meta (key, value) VALUES (?, ?)")
        try put.run([.text("position"), .integer(position)])
        for table in changed { try put.run([.text(Table.markKey(table)), .integer(position)]) }
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

    /// The tables a `Projection` is stored in.
    static let projection = [variants, cells, stores, catalogue, outbox, held]

    /// The `projection_meta` key holding the position of the table's last change.
    static func markKey(_ table: Table) -> String { "changed:" + table.name }

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
