/// How each Katana document moves stock (SPEC §2.3 and §2.6 rules 1–7), as a list of effects.
/// Every cell a document names gets at least a zero effect, so its `stock` row exists (rule 13).
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

    static func salesOrder(_ order: SalesOrder, recipe: Recipe) throws(EventError) -> [Effect] {
        var effects: [Effect] = []
        effects.reserveCapacity(order.rows.count * 4)
        for (i, row) in order.rows.enumerated() {
            let field = { "data.rows[\(i)]" }
            let cell = CellKey(row.variantID, row.locationID ?? order.locationID)
            let fulfilled = row.fulfilledQuantity ?? (order.status.isFulfilled ? row.quantity : .zero)
            let rest = order.status.isFulfilled ? Quantity.zero : try openRest(row.quantity, fulfilled, field())
            effects.append(Effect(cell, .committedSync, rest))
            if order.isFromWooCommerce { effects.append(Effect(cell, .committedSyncWooCommerce, rest)) }
            effects.append(Effect(cell, .committedTotal, rest))
            let components = recipe(row.variantID)
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
        return effects
    }

    static func manufacturingOrder(_ order: ManufacturingOrder) throws(EventError) -> [Effect] {
        let done = order.status == .done
        let output = CellKey(order.variantID, order.locationID)
        let completed = order.completedQuantity ?? (done ? order.plannedQuantity : .zero)
        var effects: [Effect] = []
        effects.reserveCapacity(2 + order.ingredients.count * 2)
        effects.append(Effect(output, .expected, done ? .zero : try openRest(order.plannedQuantity, completed, "data.planned_quantity")))
        effects.append(Effect(output, .inStock, completed))
        for (i, ingredient) in order.ingredients.enumerated() {
            let cell = CellKey(ingredient.variantID, order.locationID)
            let consumed = ingredient.consumedQuantity ?? (done ? ingredient.plannedQuantity : .zero)
            let rest = done ? .zero : try openRest(ingredient.plannedQuantity, consumed, "data.ingredients[\(i)]")
            effects.append(Effect(cell, .committedTotal, rest))
            effects.append(Effect(cell, .inStock, negate(consumed)))
        }
        return effects
    }

    static func purchaseOrder(_ order: PurchaseOrder) throws(EventError) -> [Effect] {
        var effects: [Effect] = []
        effects.reserveCapacity(order.rows.count * 2)
        let draft = order.status == .draft
        let received = order.status == .received
        for (i, row) in order.rows.enumerated() {
            let field = { "data.rows[\(i)]" }
            let cell = CellKey(row.variantID, row.locationID ?? order.locationID)
            if draft {
                // DRAFT has no effect (rule 5), but its rows are named (rule 13).
                effects.append(Effect(cell, .expected, .zero))
                continue
            }
            let rate = row.conversionRate ?? Quantity(1)
            let got = row.receivedQuantity ?? (received ? row.quantity : .zero)
            let rest = received ? .zero : try openRest(row.quantity, got, field())
            effects.append(Effect(cell, .expected, try mul(rest, rate, field())))
            effects.append(Effect(cell, .inStock, try mul(got, rate, field())))
        }
        return effects
    }

    static func stockAdjustment(_ adjustment: StockAdjustment) -> [Effect] {
        adjustment.rows.map { Effect(CellKey($0.variantID, adjustment.locationID), .inStock, $0.quantity) }
    }

    static func stockTransfer(_ transfer: StockTransfer) -> [Effect] {
        var effects: [Effect] = []
        effects.reserveCapacity(transfer.rows.count * 2)
        for row in transfer.rows {
            let source = CellKey(row.variantID, transfer.sourceLocationID)
            let target = CellKey(row.variantID, transfer.targetLocationID)
            switch transfer.status {
            case .draft:
                effects.append(Effect(source, .inStock, .zero))
                effects.append(Effect(target, .inStock, .zero))
            case .inTransit:
                // In transit lowers the source only (rule 6).
                effects.append(Effect(source, .inStock, negate(row.quantity)))
                effects.append(Effect(target, .inStock, .zero))
            case .received:
                effects.append(Effect(source, .inStock, negate(row.quantity)))
                effects.append(Effect(target, .inStock, row.quantity))
            }
        }
        return effects
    }
}
