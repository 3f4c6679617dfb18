/// How a variant found its WooCommerce product (SPEC §2.5).
public enum MatchKind: String, Sendable {
    case sku
    case wooID = "woo_id"
}

/// The outcome of matching one variant in one store, with the reason when there is none.
public enum MatchResult: Equatable, Sendable {
    case matched(WooProduct, MatchKind)
    case none(NoMatchReason)

    public var product: WooProduct? {
        if case .matched(let p, _) = self { return p }
        return nil
    }
}

/// Why a variant is not synced to a store — shown by `explain`.
public enum NoMatchReason: Equatable, Sendable {
    /// No SKU and no WooCommerce id linked for this store.
    case nothingToMatch
    /// The store's catalogue has neither the SKU nor a linked id.
    case notInCatalogue(sku: String?, linkedIDs: [WooID])
    /// The product it would match feeds another variant (SPEC §2.6 rule 12).
    case takenBy(variant: VariantID, product: WooProduct, kind: MatchKind)
}

extension Projection {
    /// SPEC §2.5 and §2.6 rule 12: SKU first (exact, case-sensitive, latest creation date, then
    /// highest id), then the first linked WooCommerce id still in the catalogue; one variant
    /// per product, a SKU match beating a link, then the lowest variant id.
    public func match(_ variant: VariantID, store: StoreID) -> MatchResult {
        let declaration = declaration(variant)
        guard let (product, kind) = candidate(declaration, store: store) else {
            let links = declaration.wooLinks.filter { $0.store == store }.map(\.wooID)
            if (declaration.sku ?? "").isEmpty && links.isEmpty { return .none(.nothingToMatch) }
            return .none(.notInCatalogue(sku: declaration.sku, linkedIDs: links))
        }
        guard let owner = owner(of: ProductKey(store, product.wooID)) else { return .none(.nothingToMatch) }
        if owner.variant == variant { return .matched(product, kind) }
        return .none(.takenBy(variant: owner.variant, product: product, kind: owner.kind))
    }

    /// Every product of `store` that a variant feeds, by WooCommerce id (rule 12: one variant
    /// per product).
    public func matchedProducts(store: StoreID) -> [WooID: (variant: VariantID, product: WooProduct)] {
        var out: [WooID: (variant: VariantID, product: WooProduct)] = [:]
        for id in variants.keys {
            if case .matched(let product, _) = match(id, store: store) { out[product.wooID] = (id, product) }
        }
        return out
    }

    /// The matched products of `store` whose value there is unknown (never acknowledged, or
    /// echoed null): new or returned products, which nothing has pushed since. Refresh counts
    /// them; `resync --unknown` pushes them.
    public func matchedWithUnknownValue(store: StoreID) -> [WooID] {
        matchedProducts(store: store).keys.filter { held[ProductKey(store, $0)] == nil }
    }

    /// How the declared variants fare in `store`: matched by SKU, matched by a WooCommerce id
    /// link, and those with a SKU or link that match nothing (explain says why for each).
    public func matchSummary(store: StoreID) -> (bySKU: Int, byLink: Int, unmatched: Int) {
        var summary = (bySKU: 0, byLink: 0, unmatched: 0)
        for id in variants.keys {
            switch match(id, store: store) {
            case .matched(_, .sku): summary.bySKU += 1
            case .matched(_, _): summary.byLink += 1
            case .none(.nothingToMatch): break
            case .none: summary.unmatched += 1
            }
        }
        return summary
    }

    /// The product a variant would take before contention: by SKU, else by link.
    func candidate(_ declaration: VariantDeclaration, store: StoreID) -> (WooProduct, MatchKind)? {
        if let sku = declaration.sku, !sku.isEmpty, let product = bestProduct(sku: sku, store: store) {
            return (product, .sku)
        }
        for link in declaration.wooLinks where link.store == store {
            if let product = catalogue[ProductKey(store, link.wooID)] { return (product, .wooID) }
        }
        return nil
    }

    /// Among a store's products with this exact SKU: the latest `date_created` (null is oldest),
    /// ties broken by the highest id.
    public func bestProduct(sku: String, store: StoreID) -> WooProduct? {
        bestBySKU[store]?[sku]
    }

    /// `bestProduct(sku:store:)`'s id alone, without copying the product.
    func bestWooID(sku: String, store: StoreID) -> WooID? {
        guard let s = bestBySKU.index(forKey: store) else { return nil }
        let bySKU = bestBySKU.values[s]
        guard let i = bySKU.index(forKey: sku) else { return nil }
        return bySKU.values[i].wooID
    }

    /// Every product carrying this exact SKU in the store, newest first (for explain).
    public func products(sku: String, store: StoreID) -> [WooProduct] {
        guard let ids = productsBySKU[store]?[sku] else { return [] }
        return ids.compactMap { catalogue[ProductKey(store, $0)] }.sorted { Projection.isNewer($0, than: $1) }
    }

    static func isNewer(_ a: WooProduct, than b: WooProduct) -> Bool {
        switch (a.dateCreated?.instant, b.dateCreated?.instant) {
        case let (x?, y?) where x != y: return x > y
        case (.some, nil): return true
        case (nil, .some): return false
        default: return a.wooID > b.wooID
        }
    }

    /// The variant that feeds a product, if any.
    func owner(of key: ProductKey) -> (variant: VariantID, kind: MatchKind)? {
        // By index, reading the SKU in place: every acknowledgement asks, and copying whole
        // products (four strings each) out of the catalogue was a good part of its cost.
        guard let i = catalogue.index(forKey: key) else { return nil }
        if let sku = catalogue.values[i].sku, !sku.isEmpty, let contenders = variantsBySKU[sku],
           bestWooID(sku: sku, store: key.store) == key.wooID, let first = contenders.min() {
            return (first, .sku)
        }
        guard let linking = linkers[key] else { return nil }
        var winner: VariantID? = nil
        for id in linking {
            guard let (p, kind) = candidate(declaration(id), store: key.store), kind == .wooID, p.wooID == key.wooID else { continue }
            if winner == nil || id < winner! { winner = id }
        }
        return winner.map { ($0, .wooID) }
    }
}
