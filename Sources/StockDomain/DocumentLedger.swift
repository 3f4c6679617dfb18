/// Stage one of the fold: Katana documents in, the net change they make to each cell out
/// (SPEC §2.3, §2.6 rules 1–8). It keeps each document's record (through a `DocumentStore`)
/// and the kit recipes that sales rows expand with, and nothing of the stock itself.
///
/// `Projection.apply` runs it inline, then moves the cells. Replay runs it on the thread that
/// reads the journal, one step ahead of the stock stage on the other core: documents are most
/// of the fold's work, and they never need the cells to compute their effects.
public struct DocumentLedger: Sendable {
    /// The components of each kit: what sales rows look up, without copying whole declarations.
    var kitRecipes: [VariantKey: [VariantDeclaration.Component]] = [:]
    /// The net change per cell of the last document event, each cell once, in first-named
    /// order. A document names a handful of cells several times each (revert and re-add, one
    /// effect per field), so they are summed in a short array; the index takes over for the
    /// rare document with many rows.
    public private(set) var netChanges: [CellChange] = []
    var netIndex: [CellKey: Int] = [:]

    public init() {}

    init(recipesOf variants: some Sequence<VariantDeclaration>) {
        for v in variants where v.isKit { kitRecipes[VariantKey(v.variantID)] = v.components }
    }

    /// Folds `payload` in when it is a document event and returns true, with `netChanges` its
    /// effect on the cells (empty when the snapshot is ignored). Any other payload returns
    /// false; variant events still update the recipes first.
    public mutating func apply<D: DocumentStore>(_ payload: EventPayload, at position: Int64, documents: inout D) throws -> Bool {
        netChanges.removeAll(keepingCapacity: true)
        if !netIndex.isEmpty { netIndex.removeAll(keepingCapacity: true) }
        switch payload {
        case .variantUpserted(let declaration):
            let key = VariantKey(declaration.variantID)
            if declaration.isKit { kitRecipes[key] = declaration.components } else { kitRecipes.removeValue(forKey: key) }
            return false
        case .variantDeleted(let id):
            kitRecipes.removeValue(forKey: VariantKey(id))
            return false
        case .salesOrderUpserted(let order):
            // Kits' recipes as of now are frozen into the effect (rule 2).
            let recipes = kitRecipes
            try applySnapshot(DocumentKey(.salesOrder, order.orderID), order.updatedAt.instant, position, &documents) { () throws(EventError) in
                try DocumentEffects.salesOrder(order) { recipes[VariantKey($0)] ?? [] }
            }
        case .manufacturingOrderUpserted(let order):
            try applySnapshot(DocumentKey(.manufacturingOrder, order.orderID), order.updatedAt.instant, position, &documents) { () throws(EventError) in
                try DocumentEffects.manufacturingOrder(order)
            }
        case .purchaseOrderUpserted(let order):
            try applySnapshot(DocumentKey(.purchaseOrder, order.orderID), order.updatedAt.instant, position, &documents) { () throws(EventError) in
                try DocumentEffects.purchaseOrder(order)
            }
        case .stockAdjustmentUpserted(let adjustment):
            try applySnapshot(DocumentKey(.stockAdjustment, adjustment.adjustmentID), adjustment.updatedAt.instant, position, &documents) {
                DocumentEffects.stockAdjustment(adjustment)
            }
        case .stockTransferUpserted(let transfer):
            try applySnapshot(DocumentKey(.stockTransfer, transfer.transferID), transfer.updatedAt.instant, position, &documents) {
                DocumentEffects.stockTransfer(transfer)
            }
        case .documentDeleted(let kind, let id):
            try documents.withRecord(for: DocumentKey(kind, id)) { record in
                guard record?.deleted != true else { return }
                if let existing = record { try net(reverting: existing.effects, adding: []) }
                // Deletion is final; a deletion of a document never seen is kept as a tombstone (rules 8, 10).
                record = DocumentRecord(updatedAt: record?.updatedAt, position: position, deleted: true, effects: EffectList())
            }
        default:
            return false
        }
        return true
    }

    /// A snapshot is ignored after a deletion or when older than the applied one (rule 8);
    /// otherwise the frozen effect of the previous snapshot is reverted and the new one applied.
    mutating func applySnapshot<D: DocumentStore>(_ key: DocumentKey, _ updatedAt: Instant, _ position: Int64, _ documents: inout D,
                                                  effects: () throws(EventError) -> [Effect]) throws {
        try documents.withRecord(for: key) { record in
            if let existing = record {
                if existing.deleted { return }
                if let applied = existing.updatedAt, updatedAt < applied { return }
            }
            let new = try effects()
            try net(reverting: record?.effects ?? EffectList(), adding: new)
            record = DocumentRecord(updatedAt: updatedAt, position: position, deleted: false, effects: EffectList(new))
        }
    }

    /// Sums `adding` minus `reverting` per cell into `netChanges`. Every cell named is kept,
    /// even when its net change is zero: it still gets a row (rule 13).
    mutating func net(reverting old: EffectList, adding new: [Effect]) throws(EventError) {
        for e in old { try accumulate(e.cell, e.field, Quantity(raw: -e.amount.raw)) }
        for e in new { try accumulate(e.cell, e.field, e.amount) }
    }

    mutating func accumulate(_ key: CellKey, _ field: EffectField, _ amount: Quantity) throws(EventError) {
        var slot: Int? = nil
        if netChanges.count < 16 {
            // Effects come grouped by row, so the cell is usually the last one noted.
            var i = netChanges.count - 1
            while i >= 0 { if netChanges[i].key == key { slot = i; break }; i -= 1 }
        } else {
            if netIndex.isEmpty { for (i, n) in netChanges.enumerated() { netIndex[n.key] = i } }
            slot = netIndex[key]
        }
        if let slot {
            guard let sum = netChanges[slot].delta[field].adding(amount) else { throw DocumentEffects.overflow("data") }
            netChanges[slot].delta[field] = sum
        } else {
            var delta = StockCell()
            delta[field] = amount
            if netChanges.count >= 16 { netIndex[key] = netChanges.count }
            netChanges.append(CellChange(key: key, delta: delta))
        }
    }
}

/// A cell and the amounts each of its numbers moves by.
public struct CellChange: Sendable {
    public var key: CellKey
    public var delta: StockCell
}
