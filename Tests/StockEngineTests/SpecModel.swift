import Foundation
import StockDomain

/// A second, deliberately naive reading of SPEC §2, written from the spec's text and sharing
/// nothing with the engine's fold but the event parser and its payload types: Foundation's
/// `Decimal` instead of the engine's fixed-point quantities, every total recomputed from all
/// documents after every event instead of netted, matching recomputed from the whole catalogue
/// on every question, and each trigger found by comparing the whole state before and after the
/// event. It is slow on purpose; agreeing with it over generated histories is evidence that the
/// fold's shortcuts (netting, memos, write-behind records, two threads) compute what the spec
/// says.
struct SpecModel {
    struct Cell: Hashable, Comparable {
        var variant: Int64, location: Int64
        static func < (a: Cell, b: Cell) -> Bool { (a.variant, a.location) < (b.variant, b.location) }
    }

    /// The five numbers of a cell (SPEC §2.2): two sums of direct sales commitments, so that
    /// each store's committed_for_sync is one of them.
    struct Totals: Equatable {
        var inStock = Decimal(0), committedTotal = Decimal(0), expected = Decimal(0)
        var committedAll = Decimal(0), committedWooCommerce = Decimal(0)
    }

    struct Effect {
        var cell: Cell
        var change: Totals
    }

    struct Document {
        var updatedAt: Instant?
        var deleted: Bool
        var effects: [Effect]
    }

    struct Product: Hashable, Comparable {
        var store: String, wooID: Int64
        static func < (a: Product, b: Product) -> Bool { (a.store, a.wooID) < (b.store, b.wooID) }
    }

    enum MatchKind: String { case sku, wooID = "woo_id", none }

    private(set) var position: Int64 = 0
    private var seen = Set<String>()
    private var variants: [Int64: VariantDeclaration] = [:]
    private var documents: [String: Document] = [:]
    /// Reconciliations' corrections, each frozen when its event applied (rule 7).
    private var corrections: [Effect] = []
    /// Rule 13: every cell an applied event has named.
    private var named = Set<Cell>()
    private var stores: [String: (settings: StoreSettings, connected: Bool)] = [:]
    /// Kept across a disconnection (rule 10).
    private var catalogue: [String: [Int64: WooProduct]] = [:]
    private var held: [Product: Int64] = [:]
    private var pending: [Product: (quantity: Int64, position: Int64)] = [:]

    static func decimal(_ q: Quantity) -> Decimal {
        guard let d = Decimal(string: q.description) else { preconditionFailure("quantity \(q) is not a decimal") }
        return d
    }

    static func floor(_ d: Decimal) -> Int64 {
        var value = d, rounded = Decimal()
        NSDecimalRound(&rounded, &value, 0, .down)
        return NSDecimalNumber(decimal: rounded).int64Value
    }

    // MARK: Folding

    mutating func apply(_ event: Event) {
        // Rule 14: the first event with an id wins; later ones take no position.
        guard seen.insert(event.id).inserted else { return }
        position += 1
        let before = totals()
        switch event.payload {
        case .variantUpserted(let v): variants[v.variantID] = v
        case .variantDeleted(let id): variants[id] = nil
        case .salesOrderUpserted(let order):
            snapshot("so\(order.orderID)", order.updatedAt.instant, salesOrderEffects(order))
        case .manufacturingOrderUpserted(let order):
            snapshot("mo\(order.orderID)", order.updatedAt.instant, manufacturingOrderEffects(order))
        case .purchaseOrderUpserted(let order):
            snapshot("po\(order.orderID)", order.updatedAt.instant, purchaseOrderEffects(order))
        case .stockAdjustmentUpserted(let adjustment):
            let effects = adjustment.rows.map {
                Effect(cell: Cell(variant: $0.variantID, location: adjustment.locationID), change: Totals(inStock: Self.decimal($0.quantity)))
            }
            snapshot("sa\(adjustment.adjustmentID)", adjustment.updatedAt.instant, effects)
        case .stockTransferUpserted(let transfer):
            snapshot("st\(transfer.transferID)", transfer.updatedAt.instant, transferEffects(transfer))
        case .documentDeleted(let kind, let id):
            let key = Self.documentKey(kind, id)
            // Deletion is final; a deletion of a document never seen is kept (rules 8, 10).
            if documents[key]?.deleted != true {
                documents[key] = Document(updatedAt: documents[key]?.updatedAt, deleted: true, effects: [])
            }
        case .inventoryReconciled(let r):
            let cell = Cell(variant: r.variantID, location: r.locationID)
            let correction = Self.decimal(r.inStock) - (before[cell]?.inStock ?? 0)
            corrections.append(Effect(cell: cell, change: Totals(inStock: correction)))
            named.insert(cell)
        case .storeConnected(let settings):
            stores[settings.store] = (settings, true)
        case .storeReconfigured(let change):
            guard let old = stores[change.store]?.settings else { break }
            let new = change.applied(to: old)
            stores[change.store]?.settings = new
            if (old.stockSync && !new.stockSync) || old.locationID != new.locationID { forgetStore(change.store) }
        case .storeDisconnected(let store):
            stores[store]?.connected = false
            forgetStore(store)
        case .wooProductUpserted(let product):
            catalogue[product.store, default: [:]][product.wooID] = product
        case .wooProductDeleted(let store, let wooID):
            guard stores[store]?.connected == true, catalogue[store]?[wooID] != nil else { break }
            catalogue[store]?[wooID] = nil
            let key = Product(store: store, wooID: wooID)
            pending[key] = nil
            held[key] = nil
        case .wooStockAcknowledged(let ack):
            guard stores[ack.store]?.connected == true, catalogue[ack.store]?[ack.wooID] != nil else { break }
            let key = Product(store: ack.store, wooID: ack.wooID)
            if pending[key]?.quantity == ack.sent { pending[key] = nil }
            held[key] = ack.echoed
            // Rule 11: the value changed back while `sent` was in flight.
            if pending[key] == nil, ack.echoed == ack.sent, let settings = stores[ack.store]?.settings, settings.stockSync,
               let owner = owner(of: key) {
                let t = synced(owner, settings, before)
                if t != ack.echoed { pending[key] = (t, position) }
            }
        case .wooStockRejected(let rejection):
            guard stores[rejection.store]?.connected == true, catalogue[rejection.store]?[rejection.wooID] != nil else { break }
            let key = Product(store: rejection.store, wooID: rejection.wooID)
            if pending[key]?.quantity == rejection.sent { pending[key] = nil }
        case .storeResyncRequested(let request):
            let store = request.store
            guard let state = stores[store], state.connected, state.settings.stockSync else { break }
            var fed: [WooID: VariantID] = [:]
            for id in variants.keys { if let product = match(id, store: store).product { fed[product.wooID] = id } }
            // Every matched product, or those listed that a variant feeds.
            for wooID in request.wooIDs ?? Array(fed.keys) {
                guard let id = fed[wooID] else { continue }
                pending[Product(store: store, wooID: wooID)] = (synced(id, state.settings, before), position)
            }
        }
        fireTriggers(before: before, after: totals())
    }

    /// §2.4 and rule 11: a push is considered for a store's product when In stock or that
    /// store's committed_for_sync of its variant at the store's location changed, net, because
    /// of the event.
    private mutating func fireTriggers(before: [Cell: Totals], after: [Cell: Totals]) {
        for (store, state) in stores.sorted(by: { $0.key < $1.key }) where state.connected && state.settings.stockSync {
            let settings = state.settings
            for cell in Set(before.keys).union(after.keys) where cell.location == settings.locationID {
                let old = before[cell] ?? Totals(), new = after[cell] ?? Totals()
                guard old.inStock != new.inStock || Self.committedForSync(old, settings) != Self.committedForSync(new, settings) else { continue }
                guard let product = match(cell.variant, store: store).product else { continue }
                let key = Product(store: store, wooID: product.wooID)
                let t = synced(cell.variant, settings, after)
                if pending[key]?.quantity == t { continue }
                if held[key] == t { pending[key] = nil } else { pending[key] = (t, position) }
            }
        }
    }

    private mutating func forgetStore(_ store: String) {
        for key in pending.keys where key.store == store { pending[key] = nil }
        for key in held.keys where key.store == store { held[key] = nil }
    }

    /// Rule 8: an older snapshot, or any after a deletion, is recorded and changes nothing;
    /// otherwise the document's effect is exactly the new snapshot's, computed now (rule 2).
    private mutating func snapshot(_ key: String, _ updatedAt: Instant, _ effects: [Effect]) {
        if let old = documents[key] {
            if old.deleted { return }
            if let applied = old.updatedAt, updatedAt < applied { return }
        }
        documents[key] = Document(updatedAt: updatedAt, deleted: false, effects: effects)
        for e in effects { named.insert(e.cell) }
    }

    static func documentKey(_ kind: DocumentKind, _ id: Int64) -> String {
        switch kind {
        case .salesOrder: return "so\(id)"
        case .manufacturingOrder: return "mo\(id)"
        case .purchaseOrder: return "po\(id)"
        case .stockAdjustment: return "sa\(id)"
        case .stockTransfer: return "st\(id)"
        case .reconciliation: return "rc\(id)"
        }
    }

    // MARK: Documents (SPEC §2.3 and rules 1–6), one effect per row and cell named

    private func salesOrderEffects(_ order: SalesOrder) -> [Effect] {
        let complete = order.status == .packed || order.status == .delivered
        var effects: [Effect] = []
        for row in order.rows {
            let location = row.locationID ?? order.locationID
            let quantity = Self.decimal(row.quantity)
            let fulfilled = row.fulfilledQuantity.map(Self.decimal) ?? (complete ? quantity : 0)
            let open = complete ? 0 : max(0, quantity - fulfilled)
            var own = Totals(committedTotal: open, committedAll: open, committedWooCommerce: order.source == "woocommerce" ? open : 0)
            if let kit = variants[row.variantID], !kit.components.isEmpty {
                for component in kit.components {
                    let perUnit = Self.decimal(component.quantity)
                    effects.append(Effect(cell: Cell(variant: component.variantID, location: location),
                                          change: Totals(inStock: -fulfilled * perUnit, committedTotal: open * perUnit)))
                }
            } else {
                own.inStock = -fulfilled
            }
            effects.append(Effect(cell: Cell(variant: row.variantID, location: location), change: own))
        }
        return effects
    }

    private func manufacturingOrderEffects(_ order: ManufacturingOrder) -> [Effect] {
        let done = order.status == .done
        let planned = Self.decimal(order.plannedQuantity)
        let completed = order.completedQuantity.map(Self.decimal) ?? (done ? planned : 0)
        var effects = [Effect(cell: Cell(variant: order.variantID, location: order.locationID),
                              change: Totals(inStock: completed, expected: done ? 0 : max(0, planned - completed)))]
        for ingredient in order.ingredients {
            let needed = Self.decimal(ingredient.plannedQuantity)
            let consumed = ingredient.consumedQuantity.map(Self.decimal) ?? (done ? needed : 0)
            effects.append(Effect(cell: Cell(variant: ingredient.variantID, location: order.locationID),
                                  change: Totals(inStock: -consumed, committedTotal: done ? 0 : max(0, needed - consumed))))
        }
        return effects
    }

    private func purchaseOrderEffects(_ order: PurchaseOrder) -> [Effect] {
        order.rows.map { row in
            let cell = Cell(variant: row.variantID, location: row.locationID ?? order.locationID)
            // A draft names its rows (rule 13) and moves nothing (rule 5).
            guard order.status != .draft else { return Effect(cell: cell, change: Totals()) }
            let rate = row.conversionRate.map(Self.decimal) ?? 1
            let quantity = Self.decimal(row.quantity)
            let received = row.receivedQuantity.map(Self.decimal) ?? (order.status == .received ? quantity : 0)
            let open = order.status == .received ? 0 : max(0, quantity - received)
            return Effect(cell: cell, change: Totals(inStock: received * rate, expected: open * rate))
        }
    }

    private func transferEffects(_ transfer: StockTransfer) -> [Effect] {
        transfer.rows.flatMap { row -> [Effect] in
            let quantity = Self.decimal(row.quantity)
            let source = Cell(variant: row.variantID, location: transfer.sourceLocationID)
            let target = Cell(variant: row.variantID, location: transfer.targetLocationID)
            switch transfer.status {
            case .draft: return [Effect(cell: source, change: Totals()), Effect(cell: target, change: Totals())]
            case .inTransit: return [Effect(cell: source, change: Totals(inStock: -quantity)), Effect(cell: target, change: Totals())]
            case .received: return [Effect(cell: source, change: Totals(inStock: -quantity)), Effect(cell: target, change: Totals(inStock: quantity))]
            }
        }
    }

    /// Every cell's numbers, summed from scratch over all applied documents and corrections.
    func totals() -> [Cell: Totals] {
        var sums: [Cell: Totals] = [:]
        for effect in documents.values.flatMap(\.effects) + corrections {
            var t = sums[effect.cell] ?? Totals()
            t.inStock += effect.change.inStock
            t.committedTotal += effect.change.committedTotal
            t.expected += effect.change.expected
            t.committedAll += effect.change.committedAll
            t.committedWooCommerce += effect.change.committedWooCommerce
            sums[effect.cell] = t
        }
        return sums
    }

    // MARK: The synced quantity (§2.2, rules 9 and 10)

    static func committedForSync(_ t: Totals, _ settings: StoreSettings) -> Decimal {
        // The opt-out counts only orders from WooCommerce, and only while sync is on.
        settings.stockSync && !settings.katanaOrdersReduceStock ? t.committedWooCommerce : t.committedAll
    }

    func synced(_ variant: Int64, _ settings: StoreSettings, _ totals: [Cell: Totals]) -> Int64 {
        let t = totals[Cell(variant: variant, location: settings.locationID)] ?? Totals()
        let value = Self.floor(t.inStock - Self.committedForSync(t, settings))
        return settings.floorAtZero ? max(0, value) : value
    }

    // MARK: Matching (§2.5, rule 12)

    /// The product a variant resolves to on its own, before rule 12's one-variant-per-product.
    private func candidate(_ variant: Int64, store: String) -> (product: WooProduct, kind: MatchKind)? {
        guard let declaration = variants[variant] else { return nil }
        let products = catalogue[store] ?? [:]
        if let sku = declaration.sku, !sku.isEmpty {
            let same = products.values.filter { $0.sku == sku }
            // Latest creation date (none is older than any), then the highest id.
            if let best = same.max(by: { a, b in
                switch (a.dateCreated?.instant, b.dateCreated?.instant) {
                case let (x?, y?) where x != y: return x < y
                case (nil, _?): return true
                case (_?, nil): return false
                default: return a.wooID < b.wooID
                }
            }) { return (best, .sku) }
        }
        for link in declaration.wooLinks where link.store == store {
            if let product = products[link.wooID] { return (product, .wooID) }
        }
        return nil
    }

    func match(_ variant: Int64, store: String) -> (product: WooProduct?, kind: MatchKind) {
        guard let mine = candidate(variant, store: store) else { return (nil, .none) }
        for other in variants.keys where other != variant {
            guard let theirs = candidate(other, store: store), theirs.product.wooID == mine.product.wooID else { continue }
            let theyWin = theirs.kind == mine.kind ? other < variant : theirs.kind == .sku
            if theyWin { return (nil, .none) }
        }
        return (mine.product, mine.kind)
    }

    private func owner(of key: Product) -> Int64? {
        variants.keys.first { match($0, store: key.store).product?.wooID == key.wooID }
    }

    // MARK: What `stock --json` and `outbox --json` show, one line per row or entry

    /// The one text both sides of the comparison are rendered to: a stock row, then one
    /// column per store at its location.
    static func stockLine(variant: Int64, sku: String?, location: Int64, inStock: String, committedTotal: String, expected: String) -> String {
        "variant \(variant) sku \(sku ?? "null") location \(location): in_stock \(inStock) committed_total \(committedTotal) expected \(expected)"
    }

    static func storeColumn(_ store: String, sync: Bool, committedForSync: String, synced: Int64, match: String, product: WooProduct?) -> String {
        " | \(store) sync \(sync) committed_for_sync \(committedForSync) synced \(synced) match \(match)"
            + " woo_id \(product.map { String($0.wooID) } ?? "null") parent_id \(product?.parentID.map(String.init) ?? "null")"
    }

    static func outboxLine(store: String, wooID: Int64, parentID: Int64?, quantity: Int64, position: Int64) -> String {
        "\(store) woo_id \(wooID) parent_id \(parentID.map(String.init) ?? "null") quantity \(quantity) position \(position)"
    }

    func stockLines() -> [String] {
        let sums = totals()
        let connected = stores.values.filter(\.connected).map(\.settings).sorted { $0.store < $1.store }
        return named.sorted().map { cell in
            let t = sums[cell] ?? Totals()
            var line = Self.stockLine(variant: cell.variant, sku: variants[cell.variant]?.sku, location: cell.location,
                                      inStock: "\(t.inStock)", committedTotal: "\(t.committedTotal)", expected: "\(t.expected)")
            for settings in connected where settings.locationID == cell.location {
                let m = match(cell.variant, store: settings.store)
                line += Self.storeColumn(settings.store, sync: settings.stockSync, committedForSync: "\(Self.committedForSync(t, settings))",
                                         synced: synced(cell.variant, settings, sums), match: m.kind.rawValue, product: m.product)
            }
            return line
        }
    }

    func outboxLines() -> [String] {
        pending.keys.sorted().map { key in
            let entry = pending[key]!
            return Self.outboxLine(store: key.store, wooID: key.wooID, parentID: catalogue[key.store]?[key.wooID]?.parentID,
                                   quantity: entry.quantity, position: entry.position)
        }
    }
}
