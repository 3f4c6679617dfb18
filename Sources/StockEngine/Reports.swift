import StockDomain

/// One row of `stock`: a variant at a location, with each store at that location.
public struct StockRow: Sendable {
    public var variantID: VariantID
    public var sku: String?
    public var locationID: LocationID
    public var cell: StockCell
    public var stores: [StoreColumn]
}

/// What one store receives for one stock row.
public struct StoreColumn: Sendable {
    public var store: StoreID
    public var stockSync: Bool
    public var committedForSync: Quantity
    public var synced: Int64
    public var match: MatchResult
}

extension Projection {
    /// The store's state, connected or not; a store never connected is a bad-input error.
    public func knownStore(_ store: StoreID, option: String = "--store") throws(EngineError) -> StoreState {
        guard let state = stores[store] else {
            throw EngineError(.badInput, "\(option.isEmpty ? "" : option + ": ")unknown store '\(store)' (see 'stocksync store list')")
        }
        return state
    }

    /// The products of `store` a narrowed resync pushes, sorted: those fed by variants with one
    /// of `skus`, those of `wooIDs`, and, with `unknownValue`, every matched product whose value
    /// in the store is unknown (never acknowledged, or echoed null: new or returned products).
    /// A SKU or id that names no matched product is a bad-input error saying why, so a typo is
    /// not taken for "nothing to push".
    public func resyncSelection(store: StoreID, skus: [String], wooIDs: [WooID], unknownValue: Bool) throws(EngineError) -> [WooID] {
        let matched = matchedProducts(store: store)
        var selected = Set<WooID>()
        for sku in skus {
            let fed = matched.filter { declaration($0.value.variant).sku == sku }.keys
            guard !fed.isEmpty else {
                let why = variants.values.contains { $0.sku == sku } ? "feeds no product in store '\(store)' ('stocksync explain \(sku) --store \(store)' says why)"
                    : "is the SKU of no Katana variant (SKUs are case-sensitive)"
                throw EngineError(.badInput, "--sku: '\(sku)' \(why)")
            }
            selected.formUnion(fed)
        }
        for id in wooIDs {
            guard matched[id] != nil else {
                let why = catalogue[ProductKey(store, id)] == nil ? "is not in store '\(store)''s catalogue ('stocksync store refresh \(store)' reads it again)"
                    : "is fed by no Katana variant (no SKU or link matches it)"
                throw EngineError(.badInput, "--woo-id: product \(id) \(why)")
            }
            selected.insert(id)
        }
        if unknownValue { selected.formUnion(matchedWithUnknownValue(store: store)) }
        return selected.sorted()
    }

    /// The store's state if it is connected; otherwise a bad-input error naming it.
    public func connectedStore(_ store: StoreID, option: String = "--store") throws(EngineError) -> StoreState {
        let state = try knownStore(store, option: option)
        guard state.connected else {
            let prefix = option.isEmpty ? "" : option + ": "
            throw EngineError(.badInput, "\(prefix)store '\(store)' is disconnected ('stocksync store connect \(store) …' connects it again, keeping its catalogue)")
        }
        return state
    }

    /// Rows of `stock` (SPEC §2.6 rule 13), sorted by variant then location; with `store`,
    /// only rows at its location with it alone; with `sku`, only variants carrying that SKU.
    public func stockRows(store: StoreID? = nil, sku: String? = nil) throws(EngineError) -> [StockRow] {
        var storeFilter: StoreState? = nil
        if let store { storeFilter = try connectedStore(store) }
        let connected = stores.values.filter(\.connected).sorted { $0.settings.store < $1.settings.store }
        var rows: [StockRow] = []
        for key in cells.keys.sorted() {
            if let storeFilter, storeFilter.settings.locationID != key.location { continue }
            let declaration = declaration(key.variant)
            if let sku, declaration.sku != sku { continue }
            let cell = cell(key)
            let columns = (storeFilter.map { [$0] } ?? connected.filter { $0.settings.locationID == key.location }).map { state in
                StoreColumn(store: state.settings.store, stockSync: state.settings.stockSync,
                            committedForSync: cell.committedForSync(state.settings), synced: cell.synced(state.settings),
                            match: match(key.variant, store: state.settings.store))
            }
            rows.append(StockRow(variantID: key.variant, sku: declaration.sku, locationID: key.location, cell: cell, stores: columns))
        }
        return rows
    }
}

/// Renders command output: JSON exactly as SPEC §7 and the issues give it, and text for people.
public enum Render {
    public static func stockJSON(position: Int64, rows: [StockRow]) -> String {
        var w = JSONWriter(capacity: 256 * max(1, rows.count))
        w.beginObject()
        w.key("position"); w.int(position)
        w.key("variants"); w.beginArray()
        for row in rows {
            w.beginObject()
            w.key("variant_id"); w.int(row.variantID)
            w.key("sku"); w.optionalString(row.sku)
            w.key("location_id"); w.int(row.locationID)
            w.key("in_stock"); w.quantity(row.cell.inStock)
            w.key("committed_total"); w.quantity(row.cell.committedTotal)
            w.key("expected"); w.quantity(row.cell.expected)
            w.key("stores"); w.beginArray()
            for s in row.stores {
                w.beginObject()
                w.key("store"); w.string(s.store)
                w.key("stock_sync"); w.bool(s.stockSync)
                w.key("committed_for_sync"); w.quantity(s.committedForSync)
                w.key("synced"); w.int(s.synced)
                writeMatch(s.match, into: &w)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    static func writeMatch(_ match: MatchResult, into w: inout JSONWriter) {
        switch match {
        case .matched(let product, let kind):
            w.key("match"); w.string(kind.rawValue)
            w.key("woo_id"); w.int(product.wooID)
            w.key("parent_id"); w.optionalInt(product.parentID)
        case .none:
            w.key("match"); w.string("none")
            w.key("woo_id"); w.null()
            w.key("parent_id"); w.null()
        }
    }

    public static func stockText(position: Int64, rows: [StockRow]) -> String {
        var lines = ["As of journal position \(position)"]
        var table: [[String]] = [["VARIANT", "SKU", "LOCATION", "IN STOCK", "COMMITTED", "EXPECTED", "STORE", "SYNC", "COMMITTED FOR SYNC", "SYNCED", "MATCH"]]
        for row in rows {
            let base = [String(row.variantID), row.sku ?? "-", String(row.locationID), row.cell.inStock.description,
                        row.cell.committedTotal.description, row.cell.expected.description]
            if row.stores.isEmpty { table.append(base + ["-", "", "", "", ""]) }
            for (i, s) in row.stores.enumerated() {
                let prefix = i == 0 ? base : Array(repeating: "", count: base.count)
                table.append(prefix + [s.store, s.stockSync ? "on" : "off", s.committedForSync.description, String(s.synced), describe(s.match)])
            }
        }
        lines.append(contentsOf: columns(table))
        return lines.joined(separator: "\n")
    }

    static func describe(_ match: MatchResult) -> String {
        switch match {
        case .matched(let p, let kind):
            let target = p.parentID.map { "variation \(p.wooID) of \($0)" } ?? "product \(p.wooID)"
            return "\(kind == .sku ? "SKU" : "WooCommerce id") → \(target)"
        case .none(.takenBy(let v, let p, _)): return "none (product \(p.wooID) feeds variant \(v))"
        case .none: return "none"
        }
    }

    public static func outboxJSON(_ projection: Projection) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("pending"); w.beginArray()
        for key in projection.pending.keys.sorted() {
            let entry = projection.pending[key]!
            w.beginObject()
            w.key("store"); w.string(key.store)
            w.key("woo_id"); w.int(key.wooID)
            w.key("parent_id"); w.optionalInt(projection.catalogue[key]?.parentID)
            w.key("quantity"); w.int(entry.quantity)
            w.key("position"); w.int(entry.position)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    public static func outboxText(_ projection: Projection) -> String {
        if projection.pending.isEmpty { return "Nothing pending." }
        var table = [["STORE", "WOO ID", "PARENT", "SKU", "QUANTITY", "CAUSED BY POSITION"]]
        for key in projection.pending.keys.sorted() {
            let entry = projection.pending[key]!
            let product = projection.catalogue[key]
            table.append([key.store, String(key.wooID), product?.parentID.map(String.init) ?? "-", product?.sku ?? "-",
                          String(entry.quantity), String(entry.position)])
        }
        return columns(table).joined(separator: "\n")
    }

    public static func storesJSON(_ projection: Projection, paused: (StoreID) -> Bool = { _ in false }) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("stores"); w.beginArray()
        for state in projection.stores.values.filter(\.connected).sorted(by: { $0.settings.store < $1.settings.store }) {
            let s = state.settings
            w.beginObject()
            w.key("store"); w.string(s.store)
            w.key("url"); w.string(s.url)
            w.key("location_id"); w.int(s.locationID)
            w.key("stock_sync"); w.bool(s.stockSync)
            w.key("katana_orders_reduce_stock"); w.bool(s.katanaOrdersReduceStock)
            w.key("floor_at_zero"); w.bool(s.floorAtZero)
            w.key("paused"); w.bool(paused(s.store))
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    /// `{"deliveries": [{"at","store","woo_id","parent_id","sku","position","sent","http_status","error_code","echoed"}]}`.
    public static func deliveriesJSON(_ rows: [DeliveryRecord]) -> String {
        var w = JSONWriter()
        w.beginObject()
        w.key("deliveries"); w.beginArray()
        for r in rows {
            w.beginObject()
            w.key("at"); w.string(r.at.description)
            w.key("store"); w.string(r.store)
            w.key("woo_id"); w.int(r.wooID)
            w.key("parent_id"); w.optionalInt(r.parentID)
            w.key("sku"); w.optionalString(r.sku)
            w.key("position"); w.int(r.position)
            w.key("sent"); w.int(r.sent)
            w.key("http_status"); w.optionalInt(r.httpStatus.map(Int64.init))
            w.key("error_code"); w.optionalString(r.errorCode)
            w.key("echoed"); w.optionalInt(r.echoed)
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.text
    }

    public static func deliveriesText(_ rows: [DeliveryRecord]) -> String {
        if rows.isEmpty { return "No deliveries." }
        return rows.map { r in
            let answer = r.httpStatus.map { "HTTP \($0)" } ?? "no answer"
            return "\(r.at)  \(r.store)  \(r.wooID)\(r.parentID.map { " (of \($0))" } ?? "")  \(r.sku ?? "-")  position \(r.position)  sent \(r.sent)  → \(answer)\(r.errorCode.map { " \($0)" } ?? "")\(r.echoed.map { ", echoed \($0)" } ?? "")"
        }.joined(separator: "\n")
    }

    /// The connected stores as an operator checks on them: settings, what waits to be sent, the
    /// last answer, then a line for each store that is paused or waiting to retry.
    public static func storesText(_ projection: Projection, statuses: [StoreID: StoreStatus] = [:],
                                  lastAnswers: [StoreID: DeliveryRecord] = [:], now: Instant = .now) -> String {
        let connected = projection.stores.values.filter(\.connected).sorted { $0.settings.store < $1.settings.store }
        if connected.isEmpty { return "No stores connected." }
        var pending: [StoreID: Int] = [:]
        for key in projection.pending.keys { pending[key.store, default: 0] += 1 }
        var table = [["STORE", "URL", "LOCATION", "STOCK SYNC", "KATANA ORDERS REDUCE STOCK", "FLOOR AT ZERO", "PENDING", "LAST ANSWER"]]
        var notes: [String] = []
        for state in connected {
            let s = state.settings
            let last = lastAnswers[s.store].map { d in "\(d.httpStatus.map { "HTTP \($0)" } ?? "no answer") at \(d.at)" } ?? "-"
            table.append([s.store, s.url, String(s.locationID), s.stockSync ? "on" : "off",
                          s.katanaOrdersReduceStock ? "on" : "off", s.floorAtZero ? "on" : "off", String(pending[s.store] ?? 0), last])
            if let reason = statuses[s.store]?.pausedReason {
                notes.append("store '\(s.store)' is PAUSED: \(reason) — 'stocksync store resume \(s.store)'")
            } else if let status = statuses[s.store], let retryAt = status.retryAt, retryAt > now {
                notes.append("store '\(s.store)' is waiting to retry at \(retryAt), after \(status.failures) failed attempt\(status.failures == 1 ? "" : "s") in a row")
            }
        }
        return (columns(table) + notes).joined(separator: "\n")
    }

    /// Left-aligned columns separated by two spaces.
    public static func columns(_ rows: [[String]]) -> [String] {
        guard let width = rows.map(\.count).max() else { return [] }
        var widths = Array(repeating: 0, count: width)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return rows.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
