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
    /// The net change per cell of the last document event (empty when it changed nothing),
    /// unless `defersNetting`.
    public var netChanges: [CellChange] { netting.changes }
    var netting = CellNetting()
    /// Replay's reading thread sets this: it leaves the netting to the stock stage, which had
    /// time to spare, and hands over the effects in `deferred` instead.
    public var defersNetting = false
    /// With `defersNetting`, each document event appends here the packed effects it reverts,
    /// then (from `deferredSplit` on) the ones it adds: replay's batches of them, which the
    /// stock stage nets. Copied as they are replaced, so a record's bytes are rewritten in place
    /// instead of reallocated, and never shared with the other thread.
    public var deferred: [UInt8] = []
    /// Where the last document event's added effects start in `deferred`.
    public private(set) var deferredSplit = 0
    /// The packed effects of the snapshot being applied, before it supersedes a record.
    var scratch = BinaryPayload.Writer(bytes: [])

    public init() {}

    init(recipesOf variants: some Sequence<VariantDeclaration>) {
        for v in variants where v.isKit { kitRecipes[VariantKey(v.variantID)] = v.components }
    }

    /// Folds `payload` in when it is a document event and returns true, with `netChanges` its
    /// effect on the cells (empty when the snapshot is ignored). Any other payload returns
    /// false; variant events still update the recipes first.
    public mutating func apply<D: DocumentStore>(_ payload: EventPayload, at position: Int64, documents: inout D) throws -> Bool {
        if defersNetting { deferredSplit = deferred.count } else { netting.reset() }
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
            try applySnapshot(DocumentKey(.salesOrder, order.orderID), order.updatedAt.instant, position, &documents) { effects throws(EventError) in
                try DocumentEffects.salesOrder(order, recipe: { recipes[VariantKey($0)] ?? [] }, into: &effects)
            }
        case .manufacturingOrderUpserted(let order):
            try applySnapshot(DocumentKey(.manufacturingOrder, order.orderID), order.updatedAt.instant, position, &documents) { effects throws(EventError) in
                try DocumentEffects.manufacturingOrder(order, into: &effects)
            }
        case .purchaseOrderUpserted(let order):
            try applySnapshot(DocumentKey(.purchaseOrder, order.orderID), order.updatedAt.instant, position, &documents) { effects throws(EventError) in
                try DocumentEffects.purchaseOrder(order, into: &effects)
            }
        case .stockAdjustmentUpserted(let adjustment):
            try applySnapshot(DocumentKey(.stockAdjustment, adjustment.adjustmentID), adjustment.updatedAt.instant, position, &documents) {
                DocumentEffects.stockAdjustment(adjustment, into: &$0)
            }
        case .stockTransferUpserted(let transfer):
            try applySnapshot(DocumentKey(.stockTransfer, transfer.transferID), transfer.updatedAt.instant, position, &documents) {
                DocumentEffects.stockTransfer(transfer, into: &$0)
            }
        case .documentDeleted(let kind, let id):
            try documents.withRecord(for: DocumentKey(kind, id)) { record in
                guard record?.deleted != true else { return }
                if record != nil { try revert(record!.effects) }
                if defersNetting { deferredSplit = deferred.count }
                // Deletion is final; a deletion of a document never seen is kept as a tombstone (rules 8, 10).
                record = DocumentRecord(updatedAt: record?.updatedAt, position: position, deleted: true, effects: EffectList())
            }
        default:
            return false
        }
        return true
    }

    /// `apply` for a document snapshot given as its binary journal payload, read in place
    /// (`DocumentBytes`): no `EventPayload`, no `[Effect]`, the very bytes the record keeps.
    /// Replay's reading thread and ingest's writing thread try it first. Returns false, having
    /// changed nothing, for any other payload and for one it cannot take in place (corrupt, out
    /// of range): the caller then decodes it and calls `apply`, which reports what is wrong.
    public mutating func applyInPlace<D: DocumentStore>(_ bytes: UnsafeRawBufferPointer, at position: Int64, documents: inout D) throws -> Bool {
        scratch.bytes.removeAll(keepingCapacity: true)
        let read: DocumentBytes.Snapshot?
        do { read = try DocumentBytes.read(bytes, recipes: kitRecipes, into: &scratch) } catch { return false }
        guard let snapshot = read else { return false }
        if defersNetting { deferredSplit = deferred.count } else { netting.reset() }
        try documents.withRecord(for: snapshot.key) { record in
            guard DocumentLedger.applies(snapshot.updatedAt, over: record) else { return }
            try supersede(&record, updatedAt: snapshot.updatedAt, position: position)
        }
        return true
    }

    /// A snapshot is ignored after a deletion or when older than the applied one (rule 8).
    @inline(__always)
    static func applies(_ updatedAt: Instant, over record: DocumentRecord?) -> Bool {
        guard let record else { return true }
        if record.deleted { return false }
        if let applied = record.updatedAt, updatedAt < applied { return false }
        return true
    }

    /// A decoded snapshot: unless `applies` says otherwise, its effects are packed into `scratch`
    /// (only then: a stale snapshot's effects are never computed, nor can they fail) and it
    /// supersedes the record.
    mutating func applySnapshot<D: DocumentStore>(_ key: DocumentKey, _ updatedAt: Instant, _ position: Int64, _ documents: inout D,
                                                  effects: (inout BinaryPayload.Writer) throws(EventError) -> Void) throws {
        try documents.withRecord(for: key) { record in
            guard DocumentLedger.applies(updatedAt, over: record) else { return }
            scratch.bytes.removeAll(keepingCapacity: true)
            try effects(&scratch)
            try supersede(&record, updatedAt: updatedAt, position: position)
        }
    }

    /// The snapshot whose packed effects are in `scratch` takes the record's place: the frozen
    /// effects of the previous one are reverted, the new ones handed on (netted, or deferred for
    /// the stock stage). The record is updated in place: its effects' bytes are rewritten, not
    /// reallocated.
    mutating func supersede(_ record: inout DocumentRecord?, updatedAt: Instant, position: Int64) throws(EventError) {
        if record != nil {
            try revert(record!.effects)
            if defersNetting { deferredSplit = deferred.count }
            record!.updatedAt = updatedAt
            record!.position = position
            record!.effects.replace(packed: scratch.bytes)
        } else {
            record = DocumentRecord(updatedAt: updatedAt, position: position, deleted: false, effects: EffectList(trusted: scratch.bytes))
        }
        if defersNetting { deferred.append(contentsOf: scratch.bytes) } else { try netting.add(packed: scratch.bytes) }
    }

    /// Takes a document's frozen effects out of the net change, or notes them for the stock
    /// stage (`defersNetting`).
    mutating func revert(_ effects: EffectList) throws(EventError) {
        if defersNetting { effects.appendPacked(to: &deferred) } else { try netting.subtract(effects) }
    }
}

/// The net change per cell of one document event: its new effects minus the ones it
/// reverts, each cell once, in first-named order. Every cell named is kept, even when its net
/// change is zero: it still gets a row (rule 13).
public struct CellNetting: Sendable {
    public private(set) var changes: [CellChange] = []
    /// A document names a handful of cells several times each (revert and re-add, one effect
    /// per field), so they are summed in a short array; the index takes over for the rare
    /// document with many rows.
    var index: [CellKey: Int] = [:]

    public init() {}

    public mutating func reset() {
        changes.removeAll(keepingCapacity: true)
        if !index.isEmpty { index.removeAll(keepingCapacity: true) }
    }

    /// Adds `added` minus `reverted`, given as packed effects (`EffectList.packed`): replay's
    /// stock stage reads them where the reading thread copied them, in its batch.
    public mutating func net(reverting reverted: UnsafeRawBufferPointer, adding added: UnsafeRawBufferPointer) throws(EventError) {
        try EffectList.forEach(in: reverted) { e throws(EventError) in try accumulate(e.cell, e.field, Quantity(raw: -e.amount.raw)) }
        try EffectList.forEach(in: added) { e throws(EventError) in try accumulate(e.cell, e.field, e.amount) }
    }

    mutating func subtract(_ effects: EffectList) throws(EventError) {
        try EffectList.forEach(in: effects.packed) { e throws(EventError) in try accumulate(e.cell, e.field, Quantity(raw: -e.amount.raw)) }
    }

    mutating func add(packed: [UInt8]) throws(EventError) {
        try EffectList.forEach(in: packed) { e throws(EventError) in try accumulate(e.cell, e.field, e.amount) }
    }

    mutating func accumulate(_ key: CellKey, _ field: EffectField, _ amount: Quantity) throws(EventError) {
        var slot: Int? = nil
        if changes.count < 16 {
            // Effects come grouped by row, so the cell is usually the last one noted.
            var i = changes.count - 1
            while i >= 0 { if changes[i].key == key { slot = i; break }; i -= 1 }
        } else {
            if index.isEmpty { for (i, n) in changes.enumerated() { index[n.key] = i } }
            slot = index[key]
        }
        if let slot {
            guard let sum = changes[slot].delta[field].adding(amount) else { throw DocumentEffects.overflow("data") }
            changes[slot].delta[field] = sum
        } else {
            var delta = StockCell()
            delta[field] = amount
            if changes.count >= 16 { index[key] = changes.count }
            changes.append(CellChange(key: key, delta: delta))
        }
    }
}

/// A cell and the amounts each of its numbers moves by.
public struct CellChange: Sendable {
    public var key: CellKey
    public var delta: StockCell
}
