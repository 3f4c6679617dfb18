/// The kind of an event, as named in the interchange format (SPEC §3.2).
///
/// The order of the cases is stored: a journal payload's type byte is the case's index
/// (`BinaryPayload`). Add new cases at the end; `JournalFormatTests` holds every journal written
/// so far to that.
public enum EventType: String, Sendable, CaseIterable {
    case variantUpserted = "variant.upserted"
    case variantDeleted = "variant.deleted"
    case salesOrderUpserted = "sales_order.upserted"
    case salesOrderDeleted = "sales_order.deleted"
    case manufacturingOrderUpserted = "manufacturing_order.upserted"
    case manufacturingOrderDeleted = "manufacturing_order.deleted"
    case purchaseOrderUpserted = "purchase_order.upserted"
    case purchaseOrderDeleted = "purchase_order.deleted"
    case stockAdjustmentUpserted = "stock_adjustment.upserted"
    case stockAdjustmentDeleted = "stock_adjustment.deleted"
    case stockTransferUpserted = "stock_transfer.upserted"
    case stockTransferDeleted = "stock_transfer.deleted"
    case inventoryReconciled = "inventory.reconciled"
    case storeConnected = "store.connected"
    case storeReconfigured = "store.reconfigured"
    case storeDisconnected = "store.disconnected"
    case wooProductUpserted = "woo.product.upserted"
    case wooProductDeleted = "woo.product.deleted"
    case wooStockAcknowledged = "woo.stock.acknowledged"
    case wooStockRejected = "woo.stock.rejected"
    case storeResyncRequested = "store.resync_requested"
}

/// Which kind of Katana document a snapshot or deletion is about. The raw values are stored
/// (the `documents` table's `kind`): never renumber them.
public enum DocumentKind: UInt8, Sendable, CaseIterable {
    case salesOrder = 1, manufacturingOrder, purchaseOrder, stockAdjustment, stockTransfer, reconciliation

    public var label: String {
        switch self {
        case .salesOrder: return "sales order"
        case .manufacturingOrder: return "manufacturing order"
        case .purchaseOrder: return "purchase order"
        case .stockAdjustment: return "stock adjustment"
        case .stockTransfer: return "stock transfer"
        case .reconciliation: return "inventory reconciliation"
        }
    }
}

/// The payload of an event, one case per event type.
public enum EventPayload: Sendable, Equatable {
    case variantUpserted(VariantDeclaration)
    case variantDeleted(VariantID)
    case salesOrderUpserted(SalesOrder)
    case manufacturingOrderUpserted(ManufacturingOrder)
    case purchaseOrderUpserted(PurchaseOrder)
    case stockAdjustmentUpserted(StockAdjustment)
    case stockTransferUpserted(StockTransfer)
    case documentDeleted(DocumentKind, Int64)
    case inventoryReconciled(InventoryReconciliation)
    case storeConnected(StoreSettings)
    case storeReconfigured(StoreChange)
    case storeDisconnected(StoreID)
    case wooProductUpserted(WooProduct)
    case wooProductDeleted(store: StoreID, wooID: WooID)
    case wooStockAcknowledged(StockAcknowledgement)
    case wooStockRejected(StockRejection)
    case storeResyncRequested(ResyncRequest)

    public var type: EventType {
        switch self {
        case .variantUpserted: return .variantUpserted
        case .variantDeleted: return .variantDeleted
        case .salesOrderUpserted: return .salesOrderUpserted
        case .manufacturingOrderUpserted: return .manufacturingOrderUpserted
        case .purchaseOrderUpserted: return .purchaseOrderUpserted
        case .stockAdjustmentUpserted: return .stockAdjustmentUpserted
        case .stockTransferUpserted: return .stockTransferUpserted
        case .documentDeleted(let kind, _):
            switch kind {
            case .salesOrder: return .salesOrderDeleted
            case .manufacturingOrder: return .manufacturingOrderDeleted
            case .purchaseOrder: return .purchaseOrderDeleted
            case .stockAdjustment: return .stockAdjustmentDeleted
            case .stockTransfer: return .stockTransferDeleted
            // Reconciliations are never deleted (rule 7): the kind only keys their records, and
            // no event type deletes one, so the decoder never builds this payload.
            case .reconciliation: return .inventoryReconciled
            }
        case .inventoryReconciled: return .inventoryReconciled
        case .storeConnected: return .storeConnected
        case .storeReconfigured: return .storeReconfigured
        case .storeDisconnected: return .storeDisconnected
        case .wooProductUpserted: return .wooProductUpserted
        case .wooProductDeleted: return .wooProductDeleted
        case .wooStockAcknowledged: return .wooStockAcknowledged
        case .wooStockRejected: return .wooStockRejected
        case .storeResyncRequested: return .storeResyncRequested
        }
    }
}

/// One journal event: an idempotency key, when it happened at the source, and what happened.
public struct Event: Sendable, Equatable {
    public var id: String
    /// RFC 3339, kept as given (export is byte-stable).
    public var at: String
    public var payload: EventPayload

    public init(id: String, at: String, payload: EventPayload) {
        self.id = id; self.at = at; self.payload = payload
    }

    public var type: EventType { payload.type }
}

/// A problem with one event: the field (a path such as `data.rows[2].quantity`) and what is wrong.
public struct EventError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String?
    public var message: String
    public init(field: String?, _ message: String) { self.field = field; self.message = message }
    public var description: String { field.map { "field '\($0)': \(message)" } ?? message }
}
