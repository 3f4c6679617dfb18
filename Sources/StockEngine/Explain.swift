import StockDomain

/// `explain`: the synced number for one variant and store, with every contribution, the
/// excluded commitments and why, and the match decision (SPEC §5).
public enum Explain {
    /// Which variants to explain: all carrying a SKU, or one by id.
    public enum Subject: Sendable {
        case sku(String)
        case variant(VariantID)
    }

    /// How many contributions a heading lists by default: a long-lived journal gives a popular
    /// variant thousands (every order it ever shipped), and a merchant reads the latest ones.
    public static let defaultLimit = 20

    /// `limit`: the most contributions listed under one heading, the latest ones; the earlier
    /// ones are summed into one line, so the lines still add up (nil lists every one).
    public static func render(_ subject: Subject, store: StoreID, in view: StateView, limit: Int? = defaultLimit) throws(EngineError) -> String {
        let projection = view.projection
        let state = try projection.connectedStore(store)
        let variants: [VariantID]
        switch subject {
        case .sku(let sku):
            variants = projection.variants.values.filter { $0.sku == sku }.map(\.variantID).sorted()
            guard !variants.isEmpty else { throw EngineError(.badInput, unknownSKU(sku, store: store, projection)) }
        case .variant(let id):
            guard projection.variants[id] != nil || projection.cells.keys.contains(where: { $0.variant == id }) else {
                throw EngineError(.badInput, "unknown variant \(id)")
            }
            variants = [id]
        }
        do {
            return try variants.map { try explain($0, state.settings, view, limit: limit) }.joined(separator: "\n\n")
        } catch let e as EngineError {
            throw e
        } catch {
            throw EngineError.database(error, path: view.journal.path)
        }
    }

    static func explain(_ variant: VariantID, _ settings: StoreSettings, _ view: StateView, limit: Int?) throws -> String {
        let p = view.projection
        let declaration = p.declaration(variant)
        let key = CellKey(variant, settings.locationID)
        let cell = p.cell(key)
        var out: [String] = []
        let skuText = declaration.sku.map { "SKU \"\($0)\"" } ?? "no SKU"
        out.append("Variant \(variant) (\(skuText)\(declaration.isKit ? ", kit" : "")) in store \"\(settings.store)\" — location \(settings.locationID), as of journal position \(p.position)")
        out.append("Stock sync \(settings.stockSync ? "on" : "off"); Katana orders reduce stock \(settings.katanaOrdersReduceStock ? "on" : "off")\(settings.countsOnlyWooCommerceOrders ? " (only WooCommerce orders count)" : ""); floor at zero \(settings.floorAtZero ? "on" : "off")")
        out.append("")

        var inStockLines: [Contribution] = []
        var counted: [Contribution] = []
        var excluded: [Contribution] = []
        var expectedLines: [Contribution] = []
        for (docKey, record) in try view.documents(touching: key) {
            var sums: [EffectField: Quantity] = [:]
            for e in record.effects where e.cell == key { sums[e.field] = (sums[e.field] ?? .zero).adding(e.amount) ?? .zero }
            let label = try describe(docKey, record, view.journal)
            let inStock = sums[.inStock] ?? .zero
            let direct = sums[.committedSync] ?? .zero
            let fromWoo = sums[.committedSyncWooCommerce] ?? .zero
            let total = sums[.committedTotal] ?? .zero
            let expected = sums[.expected] ?? .zero
            if inStock != .zero { inStockLines.append(Contribution(inStock, label)) }
            if direct != .zero {
                if settings.countsOnlyWooCommerceOrders && fromWoo == .zero {
                    excluded.append(Contribution(direct, "\(label) — not from WooCommerce, and this store counts only WooCommerce orders"))
                } else {
                    counted.append(Contribution(direct, "\(label) — open on the order"))
                }
            }
            if let component = total.subtracting(direct), component != .zero {
                let why = docKey.kind == .manufacturingOrder ? "ingredient of a manufacturing order" : "component of a kit sold"
                excluded.append(Contribution(component, "\(label) — \(why); commitments as a component never count for sync"))
            }
            if expected != .zero { expectedLines.append(Contribution(expected, label)) }
        }
        let committed = cell.committedForSync(settings)
        out.append(line(cell.inStock.description, "In stock", indent: 2))
        out.append(contentsOf: inStockLines.isEmpty ? ["      (nothing has moved it)"] : lines(inStockLines, limit: limit, signed: true))
        out.append(line(committed.description, "Committed for sync", indent: 2))
        out.append(contentsOf: counted.isEmpty ? ["      (no open sales order rows count)"] : lines(counted, limit: limit))
        if !excluded.isEmpty {
            out.append("  Not counted for sync (Katana's displayed Committed is \(cell.committedTotal))")
            out.append(contentsOf: lines(excluded, limit: limit))
        }
        let raw = "floor(\(cell.inStock) − \(committed))"
        out.append("  Synced = \(raw)\(settings.floorAtZero ? ", at least 0" : "") = \(cell.synced(settings))")
        if cell.expected != .zero {
            out.append(line(cell.expected.description, "Expected (not part of the synced number)", indent: 2))
            out.append(contentsOf: lines(expectedLines, limit: limit))
        }
        out.append("")
        out.append(contentsOf: matchLines(variant, declaration, settings, p, view.journal))
        return out.joined(separator: "\n")
    }

    /// The last attempts to deliver this product, and the last refusal if any (the audit trail).
    static func deliveryLines(_ key: ProductKey, _ journal: Journal) -> [String] {
        guard let log = try? journal.deliveries(store: key.store, wooIDs: [key.wooID]), !log.isEmpty else {
            return ["  No deliveries yet"]
        }
        var out = ["  Last deliveries:"]
        for d in log.suffix(3) {
            let answer = d.httpStatus.map { "HTTP \($0)" } ?? "no answer"
            out.append("      \(d.at)  sent \(d.sent) (journal position \(d.position)) → \(answer)\(d.errorCode.map { " \($0)" } ?? "")\(d.echoed.map { ", store echoed \($0)" } ?? "")")
        }
        if let refusal = log.last(where: { $0.errorCode != nil && ($0.httpStatus ?? 0) >= 400 && ($0.httpStatus ?? 0) < 500 }) {
            out.append("  Last refusal: \(refusal.at), \(refusal.sent) refused with HTTP \(refusal.httpStatus ?? 0) \(refusal.errorCode ?? "")")
        }
        return out
    }

    static func matchLines(_ variant: VariantID, _ declaration: VariantDeclaration, _ settings: StoreSettings, _ p: Projection, _ journal: Journal) -> [String] {
        var out: [String] = []
        let store = settings.store
        switch p.match(variant, store: store) {
        case .matched(let product, let kind):
            let target = product.parentID.map { "variation \(product.wooID) of product \($0)" } ?? "product \(product.wooID)"
            if kind == .sku {
                out.append("  Match: SKU \"\(declaration.sku ?? "")\" → WooCommerce \(target), created \(product.dateCreated?.text ?? "unknown")")
                let others = p.products(sku: declaration.sku ?? "", store: store).filter { $0.wooID != product.wooID }
                if !others.isEmpty {
                    out.append("         also carrying the SKU (older, or lower id on the same date): " +
                               others.map { "\($0.wooID) (created \($0.dateCreated?.text ?? "unknown"))" }.joined(separator: ", "))
                }
            } else {
                out.append("  Match: no WooCommerce product has SKU \(declaration.sku.map { "\"\($0)\"" } ?? "(none)"); linked WooCommerce id \(product.wooID) → \(target)")
                out.append(contentsOf: nearMisses(declaration.sku, store: store, p))
            }
            let key = ProductKey(store, product.wooID)
            if let held = p.held[key] {
                out.append("  The store is known to hold \(held) (its last acknowledgement)")
            } else {
                out.append("  What the store holds is unknown (no acknowledgement yet)")
            }
            if let pending = p.pending[key] {
                // The event's type says why: a change of stock, or a resync that pushes whatever is held.
                let cause = (try? journal.event(at: pending.position)).flatMap { $0.map { " (\($0.type.rawValue))" } } ?? ""
                out.append("  Pending push: \(pending.quantity), caused by journal position \(pending.position)\(cause)")
            } else {
                out.append("  Nothing pending for this product")
            }
            if !settings.stockSync { out.append("  Stock sync is off for this store: nothing is pushed") }
            out.append(contentsOf: deliveryLines(key, journal))
        case .none(let reason):
            switch reason {
            case .nothingToMatch:
                out.append("  Match: none — the variant has no SKU and no WooCommerce id linked for this store; it is not synced")
            case .notInCatalogue(let sku, let ids):
                let skuPart = sku.map { "no product in the store's catalogue has SKU \"\($0)\" (exact, case-sensitive)" } ?? "the variant has no SKU"
                let idPart = ids.isEmpty ? "no WooCommerce id is linked for this store" : "linked ids \(ids.map(String.init).joined(separator: ", ")) are not in the catalogue"
                out.append("  Match: none — \(skuPart), and \(idPart); nothing is created in WooCommerce")
                out.append(contentsOf: nearMisses(sku, store: store, p))
            case .takenBy(let other, let product, let kind):
                out.append("  Match: none — WooCommerce product \(product.wooID) is fed by variant \(other) (matched by \(kind == .sku ? "SKU" : "WooCommerce id")); a product is fed by one variant only")
            }
        }
        return out
    }

    /// The error for a SKU no variant carries, with what the merchant most likely meant: the
    /// variants whose SKU differs only in case or spaces, and the store's products that carry
    /// it (often the SKU was typed from WooCommerce, where it has no Katana counterpart).
    static func unknownSKU(_ sku: String, store: StoreID, _ p: Projection) -> String {
        var message = "unknown SKU '\(sku)' (no declared variant carries it)"
        let wanted = loose(sku)
        let close = p.variants.values.filter { $0.sku.map(loose) == wanted }.sorted { $0.variantID < $1.variantID }
        if !close.isEmpty {
            message += "; SKUs that differ only in case or spaces: " + close.map { "\"\($0.sku ?? "")\" (variant \($0.variantID))" }.joined(separator: ", ")
        }
        let products = p.products(sku: sku, store: store).map(\.wooID).sorted()
        if !products.isEmpty {
            message += "; store '\(store)' has WooCommerce product\(products.count == 1 ? "" : "s") \(products.map(String.init).joined(separator: ", ")) with this SKU, which receive\(products.count == 1 ? "s" : "") nothing until a Katana variant carries it exactly (or links the product by its WooCommerce id)"
        }
        return message
    }

    /// `s` without surrounding spaces and letter case: SKUs that are equal so are near misses.
    static func loose(_ s: String) -> String {
        String(s.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()).lowercased()
    }

    /// Catalogue products whose SKU differs from `sku` only in letter case or surrounding
    /// spaces: the usual reason a merchant's SKU does not match (matching is exact, SPEC §2.5).
    static func nearMisses(_ sku: String?, store: StoreID, _ p: Projection) -> [String] {
        guard let sku, !sku.isEmpty else { return [] }
        let wanted = loose(sku)
        let close = p.catalogue.values
            .filter { $0.store == store && $0.sku != sku && $0.sku.map(loose) == wanted }
            .sorted { $0.wooID < $1.wooID }
        return close.map { "         WooCommerce product \($0.wooID) has SKU \"\($0.sku ?? "")\", which differs only in case or spaces: SKUs match exactly, so correct one of them" }
    }

    static func describe(_ key: DocumentKey, _ record: DocumentRecord, _ journal: Journal) throws -> String {
        guard let event = try journal.event(at: record.position) else { return "\(key.kind.label) \(key.id)" }
        switch event.payload {
        case .salesOrderUpserted(let o):
            return "sales order \(o.orderNo ?? String(o.orderID)) (id \(o.orderID), \(o.status.rawValue), source \(o.source))"
        case .manufacturingOrderUpserted(let o):
            return "manufacturing order \(o.orderID) (\(o.status.rawValue))"
        case .purchaseOrderUpserted(let o):
            return "purchase order \(o.orderID) (\(o.status.rawValue))"
        case .stockAdjustmentUpserted(let a):
            return "stock adjustment \(a.adjustmentID) (updated \(a.updatedAt.text))"
        case .stockTransferUpserted(let t):
            return "stock transfer \(t.transferID) (\(t.status.rawValue), location \(t.sourceLocationID) → \(t.targetLocationID))"
        case .inventoryReconciled(let r):
            return "inventory reconciliation at position \(record.position) (Katana counted \(r.inStock) at \(event.at))"
        default:
            return "\(key.kind.label) \(key.id)"
        }
    }

    /// One document's share of a number, as listed under its heading.
    struct Contribution {
        var amount: Quantity
        var text: String
        init(_ amount: Quantity, _ text: String) { self.amount = amount; self.text = text }
    }

    /// A heading's contributions, in journal order; past `limit`, the earlier ones as one summed
    /// line first. Should that sum overflow (it cannot for the sums of a real cell), all are listed.
    static func lines(_ items: [Contribution], limit: Int?, signed: Bool = false) -> [String] {
        let format = { (q: Quantity) in signed ? Self.signed(q) : q.description }
        var shown = items[...]
        var out: [String] = []
        if let limit, items.count > limit {
            let earlier = items.dropLast(limit)
            var sum: Quantity? = .zero
            for item in earlier { sum = sum?.adding(item.amount) }
            if let sum {
                out.append(line(format(sum), "\(earlier.count) earlier contributions together (explain --all lists each)"))
                shown = items.suffix(limit)
            }
        }
        return out + shown.map { line(format($0.amount), $0.text) }
    }

    static func signed(_ q: Quantity) -> String { q.isNegative ? q.description : "+\(q)" }

    static func line(_ amount: String, _ text: String, indent: Int = 6) -> String {
        let pad = String(repeating: " ", count: indent)
        let column = amount.count < 12 ? amount + String(repeating: " ", count: 12 - amount.count) : amount + " "
        return indent == 2 ? "\(pad)\(text): \(amount)" : "\(pad)\(column)\(text)"
    }
}
