/// How each Katana document moves stock (SPEC §2.3 and §2.6 rules 1–7), as effects packed into
/// a writer (the bytes a document record keeps). Every cell a document names gets at least a zero
/// effect, so its `stock` row exists (rule 13).
enum DocumentEffects {
    typealias Recipe = (VariantID) -> [VariantDeclaration.Component]

    static func overflow(_ field: String) -> EventError { EventError(field: field, "quantity out of range") }

    // Field paths are only needed when something overflows: built lazily, not once per row.

    static func sub(_ a: Quantity, _ b: Quantity, _ field: @autoclosure () -> String) throws(EventError) -> Quantity {
        guard let r = a.subtracting(b) else { throw overflow(field()) }
        return r
    }

    static func mul(_ a: Quantity, _ b: Quantity, _ field: @autoclosure () -> String) throws(EventError) -> Quantity {
        guard let r = a.multiplied(by: b) else { throw overflow(field()) }
        return r
    }

    static func negate(_ a: Quantity) -> Quantity { Quantity(raw: -a.raw) }

    /// Open rest = max(0, total − done) (rule 3).
    static func openRest(_ total: Quantity, _ done: Quantity, _ field: @autoclosure () -> String) throws(EventError) -> Quantity {
        Quantity.max(.zero, try sub(total, done, field()))
    }

    static func salesOrder(_ order: SalesOrder, recipe: Recipe, into effects: inout BinaryPayload.Writer) throws(EventError) {
        for (i, row) in order.rows.enumerated() {
            try salesRow(row, i, status: order.status, locationID: order.locationID, fromWooCommerce: order.isFromWooCommerce,
                         components: recipe(row.variantID), into: &effects)
        }
    }

    // Each rule below is written once, per row, for both readers of documents: the decoded
    // snapshots above, and the reading of journal bytes in place (`DocumentBytes`).

    static func salesRow(_ row: SalesOrder.Row, _ i: Int, status: SalesOrder.Status, locationID: LocationID,
                                        fromWooCommerce: Bool, components: [VariantDeclaration.Component],
                                        into effects: inout BinaryPayload.Writer) throws(EventError) {
        let field = { "data.rows[\(i)]" }
        let cell = CellKey(row.variantID, row.locationID ?? locationID)
        let fulfilled = row.fulfilledQuantity ?? (status.isFulfilled ? row.quantity : .zero)
        let rest = status.isFulfilled ? Quantity.zero : try openRest(row.quantity, fulfilled, field())
        effects.append(Effect(cell, .committedSync, rest))
        if fromWooCommerce { effects.append(Effect(cell, .committedSyncWooCommerce, rest)) }
        effects.append(Effect(cell, .committedTotal, rest))
        if components.isEmpty {
            effects.append(Effect(cell, .inStock, negate(fulfilled)))
        } else {
            // A kit is assembled at shipment: its components move, the kit's own stock does not (rule 1).
            effects.append(Effect(cell, .inStock, .zero))
            for component in components {
                let c = CellKey(component.variantID, cell.location)
                effects.append(Effect(c, .committedTotal, try mul(rest, component.quantity, field())))
                effects.append(Effect(c, .inStock, negate(try mul(fulfilled, component.quantity, field()))))
            }
        }
    }

    static func manufacturingOrder(_ order: ManufacturingOrder, into effects: inout BinaryPayload.Writer) throws(EventError) {
        try manufacturingOutput(status: order.status, locationID: order.locationID, variantID: order.variantID,
                                planned: order.plannedQuantity, completed: order.completedQuantity, into: &effects)
        for (i, ingredient) in order.ingredients.enumerated() {
            try ingredientRow(ingredient, i, status: order.status, locationID: order.locationID, into: &effects)
        }
    }

    static func manufacturingOutput(status: ManufacturingOrder.Status, locationID: LocationID, variantID: VariantID,
                                                   planned: Quantity, completed: Quantity?, into effects: inout BinaryPayload.Writer) throws(EventError) {
        let done = status == .done
        let output = CellKey(variantID, locationID)
        let completed = completed ?? (done ? planned : .zero)
        effects.append(Effect(output, .expected, done ? .zero : try openRest(planned, completed, "data.planned_quantity")))
        effects.append(Effect(output, .inStock, completed))
    }

    static func ingredientRow(_ ingredient: ManufacturingOrder.Ingredient, _ i: Int, status: ManufacturingOrder.Status,
                                             locationID: LocationID, into effects: inout BinaryPayload.Writer) throws(EventError) {
        let done = status == .done
        let cell = CellKey(ingredient.variantID, locationID)
        let consumed = ingredient.consumedQuantity ?? (done ? ingredient.plannedQuantity : .zero)
        let rest = done ? .zero : try openRest(ingredient.plannedQuantity, consumed, "data.ingredients[\(i)]")
        effects.append(Effect(cell, .committedTotal, rest))
        effects.append(Effect(cell, .inStock, negate(consumed)))
    }

    static func purchaseOrder(_ order: PurchaseOrder, into effects: inout BinaryPayload.Writer) throws(EventError) {
        for (i, row) in order.rows.enumerated() {
            try purchaseRow(row, i, status: order.status, locationID: order.locationID, into: &effects)
        }
    }

    static func purchaseRow(_ row: PurchaseOrder.Row, _ i: Int, status: PurchaseOrder.Status, locationID: LocationID,
                                           into effects: inout BinaryPayload.Writer) throws(EventError) {
        let field = { "data.rows[\(i)]" }
        let cell = CellKey(row.variantID, row.locationID ?? locationID)
        if status == .draft {
            // DRAFT has no effect (rule 5), but its rows are named (rule 13).
            effects.append(Effect(cell, .expected, .zero))
            return
        }
        let received = status == .received
        let rate = row.conversionRate ?? Quantity(1)
        let got = row.receivedQuantity ?? (received ? row.quantity : .zero)
        let rest = received ? .zero : try openRest(row.quantity, got, field())
        effects.append(Effect(cell, .expected, try mul(rest, rate, field())))
        effects.append(Effect(cell, .inStock, try mul(got, rate, field())))
    }

    static func stockAdjustment(_ adjustment: StockAdjustment, into effects: inout BinaryPayload.Writer) {
        for row in adjustment.rows { adjustmentRow(row, locationID: adjustment.locationID, into: &effects) }
    }

    static func adjustmentRow(_ row: StockAdjustment.Row, locationID: LocationID, into effects: inout BinaryPayload.Writer) {
        effects.append(Effect(CellKey(row.variantID, locationID), .inStock, row.quantity))
    }

    static func stockTransfer(_ transfer: StockTransfer, into effects: inout BinaryPayload.Writer) {
        for row in transfer.rows {
            transferRow(row, status: transfer.status, source: transfer.sourceLocationID, target: transfer.targetLocationID, into: &effects)
        }
    }

    static func transferRow(_ row: StockTransfer.Row, status: StockTransfer.Status, source: LocationID, target: LocationID,
                                           into effects: inout BinaryPayload.Writer) {
        let from = CellKey(row.variantID, source)
        let to = CellKey(row.variantID, target)
        switch status {
        case .draft:
            effects.append(Effect(from, .inStock, .zero))
            effects.append(Effect(to, .inStock, .zero))
        case .inTransit:
            // In transit lowers the source only (rule 6).
            effects.append(Effect(from, .inStock, negate(row.quantity)))
            effects.append(Effect(to, .inStock, .zero))
        case .received:
            effects.append(Effect(from, .inStock, negate(row.quantity)))
            effects.append(Effect(to, .inStock, row.quantity))
        }
    }
}

extension BinaryPayload.Writer {
    /// Packs one effect: what the rules above call as they compute.
    mutating func append(_ effect: Effect) { self.effect(effect) }
}
