/// A store as the journal has configured it; a disconnected store keeps its id and catalogue.
public struct StoreState: Equatable, Sendable {
    public var settings: StoreSettings
    public var connected: Bool
    public init(settings: StoreSettings, connected: Bool) { self.settings = settings; self.connected = connected }
}

/// One WooCommerce product of one store.
public struct ProductKey: Hashable, Comparable, Sendable {
    public var store: StoreID
    public var wooID: WooID
    public init(_ store: StoreID, _ wooID: WooID) { self.store = store; self.wooID = wooID }
    public static func < (a: ProductKey, b: ProductKey) -> Bool { (a.store, a.wooID) < (b.store, b.wooID) }
}

/// An update waiting to be sent: the absolute value, and the journal position that caused it.
public struct PendingPush: Equatable, Sendable {
    public var quantity: Int64
    public var position: Int64
    public init(quantity: Int64, position: Int64) { self.quantity = quantity; self.position = position }
}

/// The keys an apply touched, so a persistence layer writes only those.
public struct ProjectionChanges: Sendable {
    public var variants = Set<VariantID>()
    /// Changed cells, until `allCells` takes over.
    public var cells = Set<CellKey>()
    /// Set once the changed cells are many (a large ingest): every cell is written then, and
    /// the fold stops hashing each touched key into `cells`. Cells are never removed, so
    /// writing them all loses no deletion.
    public var allCells = false
    public var stores = Set<StoreID>()
    /// Changed catalogue, outbox and held rows, until `allProducts` takes over.
    public var products = Set<ProductKey>()
    public var pending = Set<ProductKey>()
    public var held = Set<ProductKey>()
    /// Set once the changed product rows are many (a large ingest): the catalogue, outbox and
    /// held tables are then made to hold the projection's rows whole, writing only those that
    /// differ and deleting the rest, and the fold stops hashing each key into the sets above.
    public var allProducts = false
    public init() {}
    public var isEmpty: Bool {
        variants.isEmpty && cells.isEmpty && !allCells && stores.isEmpty && products.isEmpty && pending.isEmpty && held.isEmpty
            && !allProducts
    }
}

/// The fold of the journal into stock state, matching and the outbox (SPEC §2, §2.6).
///
/// Everything here is bounded by the catalogue (variants, locations, stores, products), not by
/// the journal's length: document records go through a `DocumentStore`.
public struct Projection: Sendable {
    /// The last journal position folded in.
    public internal(set) var position: Int64 = 0
    public internal(set) var variants: [VariantID: VariantDeclaration] = [:]
    public internal(set) var cells: [CellKey: StockCell] = [:]
    public internal(set) var stores: [StoreID: StoreState] = [:]
    public internal(set) var catalogue: [ProductKey: WooProduct] = [:]
    public internal(set) var pending: [ProductKey: PendingPush] = [:]
    /// What each store is known to hold: the `echoed` of its last acknowledgement.
    public internal(set) var held: [ProductKey: Int64] = [:]
    /// Keys changed since the last `takeChanges()`.
    public internal(set) var changes = ProjectionChanges()
    /// Off while replay rebuilds everything: it compares every row at the end, so recording
    /// which keys changed would be work thrown away.
    public var tracksChanges = true

    // Indices derived from the above.
    var variantsBySKU: [String: IDSet] = [:]
    var linkers: [ProductKey: IDSet] = [:]
    var productsBySKU: [StoreID: [String: IDSet]] = [:]
    /// The winning product per store and SKU (latest date, highest id), kept on catalogue changes.
    var bestBySKU: [StoreID: [String: WooProduct]] = [:]
    /// Cells the event being applied changed, with their values before and after: what the
    /// triggers compare (rule 11). An event moves each cell once (the ledger nets a document's
    /// effects per cell; a reconciliation names one cell), so no entry repeats a key.
    var touched: [TouchedCell] = []
    /// The documents and kit recipes: stage one of `apply`.
    public internal(set) var ledger = DocumentLedger()

    struct TouchedCell {
        var key: CellKey
        var before: StockCell
        var after: StockCell
    }

    /// Records a changed cell, switching to `allCells` once they are more than half of all cells.
    mutating func noteChanged(_ key: CellKey) {
        if changes.cells.insert(key).inserted && changes.cells.count >= 1024 && changes.cells.count * 2 > cells.count {
            changes.allCells = true
            changes.cells = []
        }
    }

    /// The product tables a change is noted for.
    enum ProductTable { case catalogue, outbox, held }

    /// Records a changed product row, switching to `allProducts` once the changed rows are more
    /// than half the catalogue's size.
    mutating func noteChanged(_ key: ProductKey, in table: ProductTable) {
        guard tracksChanges && !changes.allProducts else { return }
        switch table {
        case .catalogue: changes.products.insert(key)
        case .outbox: changes.pending.insert(key)
        case .held: changes.held.insert(key)
        }
        let count = changes.products.count + changes.pending.count + changes.held.count
        if count >= 1024 && count * 2 > catalogue.count {
            changes.allProducts = true
            (changes.products, changes.pending, changes.held) = ([], [], [])
        }
    }

    /// Connected stores with sync on, by id: the only ones a trigger can push to. Refreshed on
    /// every store event, so triggers do not walk and filter the store table each time.
    var pushTargets: [PushTarget] = []

    /// A store a trigger may push to: what the trigger loop reads, without the store's URL.
    struct PushTarget {
        var store: StoreID
        /// The store's slot in `matchMemo`'s keys.
        var slot: Int
        var locationID: LocationID
        var rule: SyncRule
    }
    /// The product each variant feeds per store, as far as already asked: matching is pure in
    /// variants and catalogues, and triggers ask for the same popular variants again and again.
    /// Entries are dropped precisely when an input of theirs changes (`forgetMatches`), so a
    /// catalogue edit elsewhere does not throw away the matches of every popular variant.
    /// Keyed by store slot and variant: the trigger loop reaches its store's entries without
    /// hashing the store id, and one flat table spares copying a per-store one on every lookup.
    var matchMemo: [MatchMemoKey: WooID?] = [:]
    /// Each store's slot in `matchMemo`'s keys, given when the store first appears and kept.
    var storeSlots: [StoreID: Int] = [:]
    /// Tests set this to recompute every memo hit and count the ones that differ.
    var checksMatchMemo = false
    var staleMatchMemoHits = 0

    public init() {}

    /// Rebuilds a projection from persisted parts (derived indices are recomputed).
    public init(position: Int64, variants: [VariantDeclaration], cells: [CellKey: StockCell], stores: [StoreState],
                catalogue: [WooProduct], pending: [ProductKey: PendingPush], held: [ProductKey: Int64]) {
        self.position = position
        self.cells = cells
        self.pending = pending
        self.held = held
        for s in stores { self.stores[s.settings.store] = s }
        // Sized once: growing them one insert at a time rehashes a large catalogue many times.
        self.variants.reserveCapacity(variants.count)
        variantsBySKU.reserveCapacity(variants.count)
        self.catalogue.reserveCapacity(catalogue.count)
        var perStore: [StoreID: Int] = [:]
        for p in catalogue where p.sku?.isEmpty == false { perStore[p.store, default: 0] += 1 }
        for (store, count) in perStore {
            productsBySKU[store, default: [:]].reserveCapacity(count)
            bestBySKU[store, default: [:]].reserveCapacity(count)
        }
        for v in variants { declare(v) }
        for p in catalogue { putProduct(p) }
        ledger = DocumentLedger(recipesOf: variants)
        refreshPushTargets()
        changes = ProjectionChanges()
    }

    /// Brings a stored projection to `position`, when only the tables given changed since its
    /// own position (a persistence layer knows which it wrote): stock cells, the outbox, what
    /// the stores hold. No derived index depends on them, so none is rebuilt; a change to the
    /// variants, stores or catalogue needs a whole load instead.
    public mutating func advance(to position: Int64, cells: [CellKey: StockCell]?, pending: [ProductKey: PendingPush]?,
                                 held: [ProductKey: Int64]?) {
        self.position = position
        if let cells { self.cells = cells }
        if let pending { self.pending = pending }
        if let held { self.held = held }
    }

    public mutating func takeChanges() -> ProjectionChanges {
        defer { changes = ProjectionChanges() }
        return changes
    }

    public func declaration(_ variant: VariantID) -> VariantDeclaration {
        variants[variant] ?? .undeclared(variant)
    }

    public func cell(_ key: CellKey) -> StockCell { cells[key] ?? StockCell() }

    /// What a store with `settings` receives for `variant` (SPEC §2.2), from its location's cell.
    public func synced(_ variant: VariantID, _ settings: StoreSettings) -> Int64 {
        cell(CellKey(variant, settings.locationID)).synced(settings)
    }

    // MARK: Applying events

    /// Folds one event in at `position`. Throws `EventError` when the event contradicts the
    /// state (SPEC §2.6 rule 10); the caller then discards the whole call (one transaction).
    public mutating func apply<D: DocumentStore>(_ event: Event, at position: Int64, documents: inout D) throws {
        try apply(event.payload, at: position, documents: &documents)
    }

    /// Folds one payload in: the fold never reads an event's id or source time.
    public mutating func apply<D: DocumentStore>(_ payload: EventPayload, at position: Int64, documents: inout D) throws {
        if try ledger.apply(payload, at: position, documents: &documents) {
            try apply(ledger.netChanges[...], at: position)
            return
        }
        touched.removeAll(keepingCapacity: true)
        switch payload {
        case .variantUpserted(let declaration):
            // Matching reads only SKUs and links: a recipe or kind edit keeps every memo valid.
            let old = variants[declaration.variantID]
            undeclare(declaration.variantID)
            declare(declaration)
            if old?.sku != declaration.sku || old?.wooLinks != declaration.wooLinks { forgetMatches(variant: old, declaration) }
            if tracksChanges { changes.variants.insert(declaration.variantID) }
        case .variantDeleted(let id):
            let old = variants[id]
            undeclare(id)
            if let old { forgetMatches(variant: old, nil) }
            if tracksChanges { changes.variants.insert(id) }
        case .salesOrderUpserted, .manufacturingOrderUpserted, .purchaseOrderUpserted, .stockAdjustmentUpserted,
             .stockTransferUpserted, .documentDeleted:
            break // The ledger took them above.
        case .inventoryReconciled(let r):
            // Sets in_stock in journal order; the correction stays (rule 7).
            let key = CellKey(r.variantID, r.locationID)
            guard let correction = r.inStock.subtracting(cell(key).inStock) else { throw DocumentEffects.overflow("data.in_stock") }
            let effect = Effect(key, .inStock, correction)
            var delta = StockCell()
            delta.inStock = correction
            try move(CellChange(key: key, delta: delta))
            try documents.withRecord(for: DocumentKey(.reconciliation, position)) {
                $0 = DocumentRecord(updatedAt: nil, position: position, deleted: false, effects: EffectList([effect]))
            }
        case .storeConnected(let settings):
            if stores[settings.store]?.connected == true {
                throw EventError(field: "data.store", "store '\(settings.store)' is already connected")
            }
            stores[settings.store] = StoreState(settings: settings, connected: true)
            refreshPushTargets()
            if tracksChanges { changes.stores.insert(settings.store) }
        case .storeReconfigured(let change):
            let old = try connectedStore(change.store)
            let new = change.applied(to: old)
            if (old.stockSync && !new.stockSync) || old.locationID != new.locationID {
                forgetProducts { $0.store == change.store }
            }
            stores[change.store]?.settings = new
            refreshPushTargets()
            if tracksChanges { changes.stores.insert(change.store) }
        case .storeDisconnected(let store):
            _ = try connectedStore(store)
            stores[store]?.connected = false
            refreshPushTargets()
            forgetProducts { $0.store == store }
            if tracksChanges { changes.stores.insert(store) }
        case .wooProductUpserted(let product):
            _ = try connectedStore(product.store, field: "data.store")
            let key = ProductKey(product.store, product.wooID)
            let old = catalogue[key]
            let changed = old != product
            let bestBefore = changed ? bestProducts(store: product.store, skus: [old?.sku, product.sku]) : []
            if let old { removeProduct(old) }
            putProduct(product)
            if changed { forgetMatches(product: key, skus: [old?.sku, product.sku], bestBefore: bestBefore) }
            noteChanged(key, in: .catalogue)
        case .wooProductDeleted(let store, let wooID):
            guard try isConnectedDispatcherTarget(store) else { break }
            let key = ProductKey(store, wooID)
            guard let old = catalogue[key] else { break }
            let bestBefore = bestProducts(store: store, skus: [old.sku])
            removeProduct(old)
            forgetMatches(product: key, skus: [old.sku], bestBefore: bestBefore)
            noteChanged(key, in: .catalogue)
            forget(key)
        case .wooStockAcknowledged(let ack):
            let key = ProductKey(ack.store, ack.wooID)
            guard try isConnectedDispatcherTarget(ack.store), catalogue.index(forKey: key) != nil else { break }
            acknowledge(key, sent: ack.sent, echoed: ack.echoed, position: position)
        case .wooStockRejected(let rejection):
            let key = ProductKey(rejection.store, rejection.wooID)
            guard try isConnectedDispatcherTarget(rejection.store), catalogue.index(forKey: key) != nil else { break }
            if pending[key]?.quantity == rejection.sent { removePending(key) }
        case .storeResyncRequested(let request):
            let store = request.store
            guard try isConnectedDispatcherTarget(store), let settings = stores[store]?.settings, settings.stockSync else { break }
            // A list narrows the same walk: a listed product that no variant feeds gets nothing.
            let listed = request.wooIDs.map(Set.init)
            for id in variants.keys {
                guard let wooID = matchedWooID(id, store: store), listed?.contains(wooID) ?? true else { continue }
                let key = ProductKey(store, wooID)
                pending[key] = PendingPush(quantity: synced(id, settings), position: position)
                noteChanged(key, in: .outbox)
            }
        }
        try fireTriggers(position: position)
        self.position = position
    }

    /// `apply` for a document snapshot given as its binary journal payload, read in place
    /// (`DocumentLedger.applyInPlace`); false, having changed nothing, for any other payload
    /// or one that must be decoded (the caller then calls `apply` with the decoded payload).
    public mutating func applyInPlace<D: DocumentStore>(_ bytes: UnsafeRawBufferPointer, at position: Int64, documents: inout D) throws -> Bool {
        guard try ledger.applyInPlace(bytes, at: position, documents: &documents) else { return false }
        try apply(ledger.netChanges[...], at: position)
        return true
    }

    /// Folds in a document event that the ledger has already applied, as its net changes:
    /// replay's stock stage, while the ledger runs ahead on the reading thread.
    public mutating func apply(_ cellChanges: ArraySlice<CellChange>, at position: Int64) throws {
        touched.removeAll(keepingCapacity: true)
        for change in cellChanges { try move(change) }
        try fireTriggers(position: position)
        self.position = position
    }

    /// Moves one cell, one dictionary access, and notes it in `touched`. A cell named with no
    /// net change still gets a row (rule 13).
    mutating func move(_ change: CellChange) throws(EventError) {
        var before = StockCell()
        let after = try Projection.add(change.delta, to: &cells[change.key, default: StockCell()], before: &before)
        touched.append(TouchedCell(key: change.key, before: before, after: after))
    }

    /// Adds every field of `delta` to `cell`; returns the new value and sets `before` to the old.
    static func add(_ delta: StockCell, to cell: inout StockCell, before: inout StockCell) throws(EventError) -> StockCell {
        before = cell
        guard let inStock = cell.inStock.adding(delta.inStock),
              let committedTotal = cell.committedTotal.adding(delta.committedTotal),
              let expected = cell.expected.adding(delta.expected),
              let committedSync = cell.committedSync.adding(delta.committedSync),
              let committedSyncWooCommerce = cell.committedSyncWooCommerce.adding(delta.committedSyncWooCommerce)
        else { throw DocumentEffects.overflow("data") }
        cell = StockCell(inStock: inStock, committedTotal: committedTotal, expected: expected,
                         committedSync: committedSync, committedSyncWooCommerce: committedSyncWooCommerce)
        return cell
    }

    mutating func refreshPushTargets() {
        for store in stores.keys.sorted() where storeSlots[store] == nil {
            storeSlots[store] = storeSlots.count
        }
        pushTargets = stores.values.filter { $0.connected && $0.settings.stockSync }
            .map { PushTarget(store: $0.settings.store, slot: storeSlots[$0.settings.store] ?? 0,
                              locationID: $0.settings.locationID, rule: $0.settings.syncRule) }
            .sorted { $0.store < $1.store }
    }

    /// A push is considered only where In stock or a store's committed_for_sync changed, net,
    /// because of this event (SPEC §2.4, rule 11).
    mutating func fireTriggers(position: Int64) throws {
        guard !touched.isEmpty else { return }
        for t in touched {
            if tracksChanges && !changes.allCells { noteChanged(t.key) }
            let inStockChanged = t.before.inStock != t.after.inStock
            let allChanged = t.before.committedSync != t.after.committedSync
            let wooChanged = t.before.committedSyncWooCommerce != t.after.committedSyncWooCommerce
            guard inStockChanged || allChanged || wooChanged else { continue }
            // By index: copying a target out would count a reference to its store id for every
            // touched cell, where only a push needs one.
            for i in pushTargets.indices where pushTargets[i].locationID == t.key.location {
                let rule = pushTargets[i].rule
                let committedChanged = rule.onlyWooCommerceOrders ? wooChanged : allChanged
                guard inStockChanged || committedChanged else { continue }
                guard let wooID = matchedWooID(t.key.variant, store: pushTargets[i].store, slot: pushTargets[i].slot) else { continue }
                trigger(ProductKey(pushTargets[i].store, wooID), target: t.after.synced(rule), position: position)
            }
        }
        touched.removeAll(keepingCapacity: true)
    }

    /// The product `variant` feeds in `store`, if any, memoized. Only the id is kept: triggers
    /// need nothing else, and an id copies without reference counting.
    mutating func matchedWooID(_ variant: VariantID, store: StoreID) -> WooID? {
        guard let slot = storeSlots[store] else { return match(variant, store: store).product?.wooID }
        return matchedWooID(variant, store: store, slot: slot)
    }

    mutating func matchedWooID(_ variant: VariantID, store: StoreID, slot: Int) -> WooID? {
        let key = MatchMemoKey(slot: slot, variant: variant)
        if let hit = matchMemo[key] {
            if checksMatchMemo && hit != match(variant, store: store).product?.wooID { staleMatchMemoHits += 1 }
            return hit
        }
        let result = match(variant, store: store).product?.wooID
        matchMemo[key] = .some(result)
        return result
    }

    /// SPEC §2.6 rule 11, on a trigger with target t.
    mutating func trigger(_ key: ProductKey, target: Int64, position: Int64) {
        let known = held[key]
        // One access to the pending entry, read and written in place.
        let changed = Projection.settle(&pending[key], target: target, known: known, position: position)
        if changed { noteChanged(key, in: .outbox) }
    }

    /// Rule 11 on one pending entry; returns whether it changed.
    static func settle(_ entry: inout PendingPush?, target: Int64, known: Int64?, position: Int64) -> Bool {
        if entry?.quantity == target { return false }
        if known == target {
            defer { entry = nil }
            return entry != nil
        }
        entry = PendingPush(quantity: target, position: position)
        return true
    }

    /// SPEC §2.6 rule 11, on `woo.stock.acknowledged`.
    mutating func acknowledge(_ key: ProductKey, sent: Int64, echoed: Int64?, position: Int64) {
        if pending[key]?.quantity == sent { removePending(key) }
        held[key] = echoed
        noteChanged(key, in: .held)
        guard pending[key] == nil, echoed == sent, let settings = stores[key.store]?.settings, settings.stockSync,
              let owner = owner(of: key) else { return }
        let current = synced(owner.variant, settings)
        if current != echoed {
            pending[key] = PendingPush(quantity: current, position: position)
            noteChanged(key, in: .outbox)
        }
    }

    mutating func removePending(_ key: ProductKey) {
        if pending.removeValue(forKey: key) != nil { noteChanged(key, in: .outbox) }
    }

    /// Drops the pending entry and forgets the held value of one product.
    mutating func forget(_ key: ProductKey) {
        removePending(key)
        if held.removeValue(forKey: key) != nil { noteChanged(key, in: .held) }
    }

    /// Drops pending entries and forgets held values of the products selected.
    mutating func forgetProducts(_ selected: (ProductKey) -> Bool) {
        // The keys are gathered first: removing while iterating a dictionary's own keys would
        // copy the whole dictionary on the first removal.
        for key in pending.keys.filter(selected) { removePending(key) }
        for key in held.keys.filter(selected) {
            held.removeValue(forKey: key)
            noteChanged(key, in: .held)
        }
    }

    func connectedStore(_ store: StoreID, field: String = "data.store") throws(EventError) -> StoreSettings {
        guard let state = stores[store] else { throw EventError(field: field, "unknown store '\(store)'") }
        guard state.connected else { throw EventError(field: field, "store '\(store)' is not connected") }
        return state.settings
    }

    /// Dispatcher events for a store that was disconnected meanwhile change nothing (rule 10);
    /// a store never connected is an unresolved reference.
    func isConnectedDispatcherTarget(_ store: StoreID) throws(EventError) -> Bool {
        guard let state = stores[store] else { throw EventError(field: "data.store", "unknown store '\(store)'") }
        return state.connected
    }

    // MARK: Indices

    mutating func declare(_ v: VariantDeclaration) {
        variants[v.variantID] = v
        if let sku = v.sku, !sku.isEmpty { variantsBySKU[sku, default: []].insert(v.variantID) }
        for link in v.wooLinks { linkers[ProductKey(link.store, link.wooID), default: []].insert(v.variantID) }
    }

    mutating func undeclare(_ id: VariantID) {
        guard let v = variants.removeValue(forKey: id) else { return }
        if let sku = v.sku, !sku.isEmpty {
            variantsBySKU[sku]?.remove(id)
            if variantsBySKU[sku]?.isEmpty == true { variantsBySKU[sku] = nil }
        }
        for link in v.wooLinks {
            let key = ProductKey(link.store, link.wooID)
            linkers[key]?.remove(id)
            if linkers[key]?.isEmpty == true { linkers[key] = nil }
        }
    }

    mutating func putProduct(_ p: WooProduct) {
        catalogue[ProductKey(p.store, p.wooID)] = p
        if let sku = p.sku, !sku.isEmpty {
            productsBySKU[p.store, default: [:]][sku, default: []].insert(p.wooID)
            refreshBest(sku: sku, store: p.store)
        }
    }

    mutating func removeProduct(_ p: WooProduct) {
        catalogue[ProductKey(p.store, p.wooID)] = nil
        if let sku = p.sku, !sku.isEmpty {
            productsBySKU[p.store]?[sku]?.remove(p.wooID)
            if productsBySKU[p.store]?[sku]?.isEmpty == true { productsBySKU[p.store]?[sku] = nil }
            refreshBest(sku: sku, store: p.store)
        }
    }

    // MARK: Match memo invalidation

    /// The best products of `store` for these SKUs, as keys.
    func bestProducts(store: StoreID, skus: [String?]) -> [ProductKey] {
        skus.compactMap { sku in sku.flatMap { bestBySKU[store]?[$0] }.map { ProductKey(store, $0.wooID) } }
    }

    /// After a variant's SKU or links changed (`new` nil: deleted), with the indices already
    /// updated. Its candidate changed, so did the owner of every product it could take: the best
    /// product of its old and new SKU in each store and its old and new links. Affected are the
    /// variant, the SKU contenders of those SKUs, and every variant linking those products.
    mutating func forgetMatches(variant old: VariantDeclaration?, _ new: VariantDeclaration?) {
        guard let id = old?.variantID ?? new?.variantID else { return }
        var affected: Set<VariantID> = [id]
        var products: [ProductKey] = []
        for d in [old, new].compactMap({ $0 }) {
            for link in d.wooLinks { products.append(ProductKey(link.store, link.wooID)) }
            if let sku = d.sku, !sku.isEmpty {
                affected.formUnion(variantsBySKU[sku] ?? [])
                for store in bestBySKU.keys { products += bestProducts(store: store, skus: [sku]) }
            }
        }
        for p in products { affected.formUnion(linkers[p] ?? []) }
        for slot in 0..<storeSlots.count { for v in affected { matchMemo.removeValue(forKey: MatchMemoKey(slot: slot, variant: v)) } }
    }

    /// After a product of one store was upserted or deleted, with the indices already updated.
    /// Candidates changed for the SKU contenders of its old and new SKU and for its linkers;
    /// owners changed for the product, the best products before and after, and every product
    /// those candidates link in this store. Affected are the candidates and those products' linkers.
    mutating func forgetMatches(product key: ProductKey, skus: [String?], bestBefore: [ProductKey]) {
        var candidates = Set(linkers[key] ?? [])
        for sku in skus { if let sku, !sku.isEmpty { candidates.formUnion(variantsBySKU[sku] ?? []) } }
        var products = [key] + bestBefore + bestProducts(store: key.store, skus: skus)
        for c in candidates {
            for link in declaration(c).wooLinks where link.store == key.store { products.append(ProductKey(link.store, link.wooID)) }
        }
        var affected = candidates
        for p in products { affected.formUnion(linkers[p] ?? []) }
        guard let slot = storeSlots[key.store] else { return }
        for v in affected { matchMemo.removeValue(forKey: MatchMemoKey(slot: slot, variant: v)) }
    }

    mutating func refreshBest(sku: String, store: StoreID) {
        var best: WooProduct? = nil
        for id in productsBySKU[store]?[sku] ?? [] {
            guard let p = catalogue[ProductKey(store, id)] else { continue }
            if best == nil || Projection.isNewer(p, than: best!) { best = p }
        }
        bestBySKU[store, default: [:]][sku] = best
    }
}
