/// Reads and writes events in the JSON Lines interchange format (SPEC §3.2), strictly:
/// every missing or ill-typed field is an `EventError` naming the field.
public enum EventCodec {
    /// Decodes one line. Unknown fields are ignored; unknown types are errors.
    public static func decodeLine(_ bytes: UnsafeBufferPointer<UInt8>) throws(EventError) -> Event {
        let value: JSONValue
        do { value = try JSONReader.parse(bytes) } catch {
            // A JSON array of events is the usual mix-up: say what the format is.
            let opensArray = bytes.first { $0 != 0x20 && $0 != 0x09 } == UInt8(ascii: "[")
            throw EventError(field: nil, error.description + (opensArray ? Self.oneObjectPerLine : ""))
        }
        guard case .object(let members) = value else { throw EventError(field: nil, "an event must be a JSON object" + Self.oneObjectPerLine) }
        let top = Fields(members: members, path: "")
        let id = try top.string("id")
        guard (1...200).contains(id.count) else { throw EventError(field: "id", "must be 1 to 200 characters") }
        let typeName = try top.string("type")
        guard let type = EventType(rawValue: typeName) else {
            // A misremembered action ("sales_order.updated") gets the types of its resource.
            let resource = typeName.prefix { $0 != "." } + "."
            let family = EventType.allCases.map(\.rawValue).filter { $0.hasPrefix(resource) }
            throw EventError(field: "type", "unknown event type '\(typeName)'" + (family.isEmpty ? "" : " (known: \(family.joined(separator: ", ")))"))
        }
        let at = try top.string("at")
        guard Instant.parse(at) != nil else { throw EventError(field: "at", "'\(at)' is not an RFC 3339 timestamp with offset") }
        let data = try top.value("data")
        guard case .object(let data)? = data else { throw EventError(field: "data", data == nil ? "missing" : "must be an object") }
        let payload = try decodePayload(type: type, Fields(members: data, path: "data"))
        // Only on the way in: rows stored by older builds still read back as they were written.
        var url: String? = nil
        if case .storeConnected(let settings) = payload { url = settings.url }
        if case .storeReconfigured(let change) = payload { url = change.url }
        if let url, StoreSettings.urlCarriesCredentials(url) { throw EventError(field: "data.url", StoreSettings.credentialsInURLMessage) }
        return Event(id: id, at: at, payload: payload)
    }

    static let oneObjectPerLine = " (ingest reads JSON Lines: one event object per line, not a JSON array)"

    public static func decodeLine(_ text: String) throws(EventError) -> Event {
        var copy = text
        let result: Result<Event, EventError> = copy.withUTF8 { buffer in
            do throws(EventError) { return .success(try decodeLine(buffer)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes a stored payload (the journal keeps canonical `data` JSON and the type apart).
    public static func decodeData(type: EventType, json: UnsafeBufferPointer<UInt8>) throws(EventError) -> EventPayload {
        let value: JSONValue
        do { value = try JSONReader.parse(json) } catch { throw EventError(field: "data", error.description) }
        guard case .object(let data) = value else { throw EventError(field: "data", "must be an object") }
        return try decodePayload(type: type, Fields(members: data, path: "data"))
    }

    static func decodePayload(type: EventType, _ d: Fields) throws(EventError) -> EventPayload {
        switch type {
        case .variantUpserted:
            let kindName = try d.string("kind")
            guard let kind = VariantDeclaration.Kind(rawValue: kindName) else {
                throw d.error("kind", "must be 'product' or 'material', not '\(kindName)'")
            }
            let components = try d.optionalObjects("components").map { c throws(EventError) in
                VariantDeclaration.Component(variantID: try c.int("variant_id"), quantity: try c.positiveQuantity("quantity"))
            }
            let links = try d.optionalObjects("woo_links").map { l throws(EventError) in
                VariantDeclaration.WooLink(store: try l.storeID("store"), wooID: try l.int("woo_id"))
            }
            return .variantUpserted(VariantDeclaration(
                variantID: try d.int("variant_id"), sku: try d.optionalString("sku"), kind: kind,
                components: components, wooLinks: links))
        case .variantDeleted:
            return .variantDeleted(try d.int("variant_id"))
        case .salesOrderUpserted:
            let rows = try d.objects("rows").map { r throws(EventError) in
                SalesOrder.Row(rowID: try r.int("row_id"), variantID: try r.int("variant_id"),
                               quantity: try r.nonNegativeQuantity("quantity"),
                               fulfilledQuantity: try r.optionalNonNegativeQuantity("fulfilled_quantity"),
                               locationID: try r.optionalInt("location_id"))
            }
            return .salesOrderUpserted(SalesOrder(
                orderID: try d.int("order_id"), orderNo: try d.optionalString("order_no"),
                updatedAt: try d.timestamp("updated_at"), status: try d.enumeration("status"),
                locationID: try d.int("location_id"), source: try d.string("source"),
                store: try d.optionalString("store"), rows: rows))
        case .manufacturingOrderUpserted:
            let ingredients = try d.objects("ingredients").map { i throws(EventError) in
                ManufacturingOrder.Ingredient(variantID: try i.int("variant_id"),
                                              plannedQuantity: try i.nonNegativeQuantity("planned_quantity"),
                                              consumedQuantity: try i.optionalNonNegativeQuantity("consumed_quantity"))
            }
            return .manufacturingOrderUpserted(ManufacturingOrder(
                orderID: try d.int("order_id"), updatedAt: try d.timestamp("updated_at"),
                status: try d.enumeration("status"), locationID: try d.int("location_id"),
                variantID: try d.int("variant_id"), plannedQuantity: try d.nonNegativeQuantity("planned_quantity"),
                completedQuantity: try d.optionalNonNegativeQuantity("completed_quantity"), ingredients: ingredients))
        case .purchaseOrderUpserted:
            let rows = try d.objects("rows").map { r throws(EventError) in
                PurchaseOrder.Row(rowID: try r.int("row_id"), variantID: try r.int("variant_id"),
                                  quantity: try r.nonNegativeQuantity("quantity"),
                                  receivedQuantity: try r.optionalNonNegativeQuantity("received_quantity"),
                                  conversionRate: try r.optionalPositiveQuantity("conversion_rate"),
                                  locationID: try r.optionalInt("location_id"))
            }
            return .purchaseOrderUpserted(PurchaseOrder(
                orderID: try d.int("order_id"), updatedAt: try d.timestamp("updated_at"),
                status: try d.enumeration("status"), locationID: try d.int("location_id"), rows: rows))
        case .stockAdjustmentUpserted:
            let rows = try d.objects("rows").map { r throws(EventError) in
                StockAdjustment.Row(variantID: try r.int("variant_id"), quantity: try r.quantity("quantity"))
            }
            return .stockAdjustmentUpserted(StockAdjustment(
                adjustmentID: try d.int("adjustment_id"), updatedAt: try d.timestamp("updated_at"),
                locationID: try d.int("location_id"), rows: rows))
        case .stockTransferUpserted:
            let rows = try d.objects("rows").map { r throws(EventError) in
                StockTransfer.Row(variantID: try r.int("variant_id"), quantity: try r.nonNegativeQuantity("quantity"))
            }
            return .stockTransferUpserted(StockTransfer(
                transferID: try d.int("transfer_id"), updatedAt: try d.timestamp("updated_at"),
                status: try d.enumeration("status"), sourceLocationID: try d.int("source_location_id"),
                targetLocationID: try d.int("target_location_id"), rows: rows))
        case .salesOrderDeleted: return .documentDeleted(.salesOrder, try d.int("order_id"))
        case .manufacturingOrderDeleted: return .documentDeleted(.manufacturingOrder, try d.int("order_id"))
        case .purchaseOrderDeleted: return .documentDeleted(.purchaseOrder, try d.int("order_id"))
        case .stockAdjustmentDeleted: return .documentDeleted(.stockAdjustment, try d.int("adjustment_id"))
        case .stockTransferDeleted: return .documentDeleted(.stockTransfer, try d.int("transfer_id"))
        case .inventoryReconciled:
            return .inventoryReconciled(InventoryReconciliation(
                variantID: try d.int("variant_id"), locationID: try d.int("location_id"), inStock: try d.quantity("in_stock")))
        case .storeConnected:
            return .storeConnected(StoreSettings(
                store: try d.storeID("store"), url: try d.string("url"), locationID: try d.int("location_id"),
                stockSync: try d.bool("stock_sync"),
                katanaOrdersReduceStock: try d.optionalBool("katana_orders_reduce_stock") ?? true,
                floorAtZero: try d.optionalBool("floor_at_zero") ?? false))
        case .storeReconfigured:
            return .storeReconfigured(StoreChange(
                store: try d.storeID("store"), url: try d.optionalString("url"),
                locationID: try d.optionalInt("location_id"), stockSync: try d.optionalBool("stock_sync"),
                katanaOrdersReduceStock: try d.optionalBool("katana_orders_reduce_stock"),
                floorAtZero: try d.optionalBool("floor_at_zero")))
        case .storeDisconnected:
            return .storeDisconnected(try d.storeID("store"))
        case .wooProductUpserted:
            let parent = try d.optionalInt("parent_id")
            var date: Timestamp? = nil
            if let text = try d.optionalString("date_created") {
                guard let instant = Instant.parse(text, offsetOptional: true) else {
                    throw d.error("date_created", "'\(text)' is not a date-time")
                }
                date = Timestamp(text: text, instant: instant)
            }
            return .wooProductUpserted(WooProduct(
                store: try d.storeID("store"), wooID: try d.int("woo_id"),
                parentID: parent == 0 ? nil : parent, sku: try d.optionalString("sku"),
                dateCreated: date, type: try d.optionalString("type")))
        case .wooProductDeleted:
            return .wooProductDeleted(store: try d.storeID("store"), wooID: try d.int("woo_id"))
        case .wooStockAcknowledged:
            guard try d.value("echoed") != nil else { throw d.error("echoed", "missing (use null for unknown)") }
            return .wooStockAcknowledged(StockAcknowledgement(
                store: try d.storeID("store"), wooID: try d.int("woo_id"), sent: try d.int("sent"),
                echoed: try d.optionalInt("echoed")))
        case .wooStockRejected:
            return .wooStockRejected(StockRejection(
                store: try d.storeID("store"), wooID: try d.int("woo_id"), sent: try d.int("sent"),
                code: try d.string("code"), status: try d.int("status")))
        case .storeResyncRequested:
            return .storeResyncRequested(ResyncRequest(store: try d.storeID("store"), wooIDs: try d.optionalIDs("woo_ids")))
        }
    }
}

/// Typed access to one JSON object's members, with error paths.
struct Fields {
    let members: [JSONMember]
    let path: String

    func error(_ key: String, _ message: String) -> EventError {
        EventError(field: path.isEmpty ? key : "\(path).\(key)", message)
    }

    /// The member named `key`. A known field given twice is refused rather than one copy picked:
    /// `"quantity":5,"quantity":-5` has no meaning a merchant could rely on.
    func value(_ key: String) throws(EventError) -> JSONValue? {
        var found: JSONValue? = nil
        for m in members where m.key == key {
            guard found == nil else { throw error(key, "appears more than once") }
            found = m.value
        }
        return found
    }

    /// The value, treating an explicit null as absent.
    func present(_ key: String) throws(EventError) -> JSONValue? {
        guard let v = try value(key) else { return nil }
        if case .null = v { return nil }
        return v
    }

    func required(_ key: String) throws(EventError) -> JSONValue {
        guard let v = try value(key) else { throw error(key, "missing") }
        if case .null = v { throw error(key, "must not be null") }
        return v
    }

    func string(_ key: String) throws(EventError) -> String {
        let v = try required(key)
        guard case .string(let s) = v else { throw error(key, "must be a string, not \(v.typeName)") }
        return s
    }

    func optionalString(_ key: String) throws(EventError) -> String? {
        guard let v = try present(key) else { return nil }
        guard case .string(let s) = v else { throw error(key, "must be a string, not \(v.typeName)") }
        return s
    }

    func storeID(_ key: String) throws(EventError) -> StoreID {
        let s = try string(key)
        // Every store id a store is keyed by, or refers to one, comes through here; a sales
        // order's `store` is only a label and does not.
        guard StoreSlug.isValid(s) else { throw error(key, "\(StoreSlug.quoted(s)) is not a store slug: use \(StoreSlug.rule)") }
        return s
    }

    func bool(_ key: String) throws(EventError) -> Bool {
        let v = try required(key)
        guard case .bool(let b) = v else { throw error(key, "must be true or false, not \(v.typeName)") }
        return b
    }

    func optionalBool(_ key: String) throws(EventError) -> Bool? {
        guard try present(key) != nil else { return nil }
        return try bool(key)
    }

    func int(_ key: String) throws(EventError) -> Int64 {
        let v = try required(key)
        guard case .number(let text) = v, let n = Int64(text) else {
            throw error(key, "must be an integer, not \(v.typeName == "a number" ? "'\(v.numberText)'" : v.typeName)")
        }
        return n
    }

    func optionalInt(_ key: String) throws(EventError) -> Int64? {
        guard try present(key) != nil else { return nil }
        return try int(key)
    }

    func quantity(_ key: String) throws(EventError) -> Quantity {
        let v = try required(key)
        let result: Result<Quantity, QuantityError>
        switch v {
        case .number(var text): result = text.withUTF8 { Quantity.parse($0, allowExponent: true) }
        case .string(var text): result = text.withUTF8 { Quantity.parse($0, allowExponent: false) }
        default: throw error(key, "must be a number or a decimal string, not \(v.typeName)")
        }
        switch result {
        case .success(let q): return q
        case .failure(let reason): throw error(key, "'\(v.numberText)' \(reason)")
        }
    }

    func optionalQuantity(_ key: String) throws(EventError) -> Quantity? {
        guard try present(key) != nil else { return nil }
        return try quantity(key)
    }

    func nonNegativeQuantity(_ key: String) throws(EventError) -> Quantity {
        let q = try quantity(key)
        guard !q.isNegative else { throw error(key, "must be ≥ 0, not \(q)") }
        return q
    }

    func optionalNonNegativeQuantity(_ key: String) throws(EventError) -> Quantity? {
        guard try present(key) != nil else { return nil }
        return try nonNegativeQuantity(key)
    }

    func positiveQuantity(_ key: String) throws(EventError) -> Quantity {
        let q = try quantity(key)
        guard q > .zero else { throw error(key, "must be > 0, not \(q)") }
        return q
    }

    func optionalPositiveQuantity(_ key: String) throws(EventError) -> Quantity? {
        guard try present(key) != nil else { return nil }
        return try positiveQuantity(key)
    }

    func timestamp(_ key: String) throws(EventError) -> Timestamp {
        let text = try string(key)
        guard let instant = Instant.parse(text) else { throw error(key, "'\(text)' is not an RFC 3339 timestamp with offset") }
        return Timestamp(text: text, instant: instant)
    }

    func enumeration<E: RawRepresentable & CaseIterable>(_ key: String) throws(EventError) -> E where E.RawValue == String {
        let text = try string(key)
        guard let value = E(rawValue: text) else {
            throw error(key, "unknown status '\(text)' (expected one of \(E.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return value
    }

    /// A non-empty array of integers, or nil when absent or null.
    func optionalIDs(_ key: String) throws(EventError) -> [Int64]? {
        guard let v = try present(key) else { return nil }
        guard case .array(let items) = v else { throw error(key, "must be an array of integers, not \(v.typeName)") }
        guard !items.isEmpty else { throw error(key, "must not be empty (leave it out to mean every one)") }
        var ids: [Int64] = []
        ids.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case .number(let text) = item, let n = Int64(text) else {
                throw error("\(key)[\(i)]", "must be an integer, not \(item.typeName == "a number" ? "'\(item.numberText)'" : item.typeName)")
            }
            ids.append(n)
        }
        return ids
    }

    func objects(_ key: String) throws(EventError) -> [Fields] {
        let v = try required(key)
        return try objectArray(key, v)
    }

    func optionalObjects(_ key: String) throws(EventError) -> [Fields] {
        guard let v = try present(key) else { return [] }
        return try objectArray(key, v)
    }

    private func objectArray(_ key: String, _ v: JSONValue) throws(EventError) -> [Fields] {
        guard case .array(let items) = v else { throw error(key, "must be an array, not \(v.typeName)") }
        var result: [Fields] = []
        result.reserveCapacity(items.count)
        let base = path.isEmpty ? key : "\(path).\(key)"
        for (i, item) in items.enumerated() {
            guard case .object(let m) = item else {
                throw EventError(field: "\(base)[\(i)]", "must be an object, not \(item.typeName)")
            }
            result.append(Fields(members: m, path: "\(base)[\(i)]"))
        }
        return result
    }
}

extension JSONValue {
    var numberText: String {
        switch self {
        case .number(let t), .string(let t): return t
        default: return typeName
        }
    }
}

// MARK: - Canonical encoding

extension EventCodec {
    /// The canonical `data` object: known fields only, fixed order, canonical decimals,
    /// timestamps as given. Encoding a decoded event and decoding it again is lossless.
    public static func encodeData(_ payload: EventPayload) -> String {
        var w = JSONWriter()
        writeData(payload, into: &w)
        return w.text
    }

    /// One interchange line, with `position` first when given.
    public static func encodeLine(_ event: Event, position: Int64?) -> String {
        var w = JSONWriter()
        w.beginObject()
        if let position { w.key("position"); w.int(position) }
        w.key("id"); w.string(event.id)
        w.key("type"); w.string(event.type.rawValue)
        w.key("at"); w.string(event.at)
        w.key("data"); writeData(event.payload, into: &w)
        w.endObject()
        return w.text
    }

    static func writeData(_ payload: EventPayload, into w: inout JSONWriter) {
        w.beginObject()
        switch payload {
        case .variantUpserted(let v):
            w.key("variant_id"); w.int(v.variantID)
            w.key("sku"); w.optionalString(v.sku)
            w.key("kind"); w.string(v.kind.rawValue)
            w.key("components"); w.beginArray()
            for c in v.components {
                w.beginObject(); w.key("variant_id"); w.int(c.variantID); w.key("quantity"); w.quantity(c.quantity); w.endObject()
            }
            w.endArray()
            w.key("woo_links"); w.beginArray()
            for l in v.wooLinks {
                w.beginObject(); w.key("store"); w.string(l.store); w.key("woo_id"); w.int(l.wooID); w.endObject()
            }
            w.endArray()
        case .variantDeleted(let id):
            w.key("variant_id"); w.int(id)
        case .salesOrderUpserted(let o):
            w.key("order_id"); w.int(o.orderID)
            if let no = o.orderNo { w.key("order_no"); w.string(no) }
            w.key("updated_at"); w.string(o.updatedAt.text)
            w.key("status"); w.string(o.status.rawValue)
            w.key("location_id"); w.int(o.locationID)
            w.key("source"); w.string(o.source)
            if let store = o.store { w.key("store"); w.string(store) }
            w.key("rows"); w.beginArray()
            for r in o.rows {
                w.beginObject()
                w.key("row_id"); w.int(r.rowID)
                w.key("variant_id"); w.int(r.variantID)
                w.key("quantity"); w.quantity(r.quantity)
                if let f = r.fulfilledQuantity { w.key("fulfilled_quantity"); w.quantity(f) }
                if let l = r.locationID { w.key("location_id"); w.int(l) }
                w.endObject()
            }
            w.endArray()
        case .manufacturingOrderUpserted(let o):
            w.key("order_id"); w.int(o.orderID)
            w.key("updated_at"); w.string(o.updatedAt.text)
            w.key("status"); w.string(o.status.rawValue)
            w.key("location_id"); w.int(o.locationID)
            w.key("variant_id"); w.int(o.variantID)
            w.key("planned_quantity"); w.quantity(o.plannedQuantity)
            if let c = o.completedQuantity { w.key("completed_quantity"); w.quantity(c) }
            w.key("ingredients"); w.beginArray()
            for i in o.ingredients {
                w.beginObject()
                w.key("variant_id"); w.int(i.variantID)
                w.key("planned_quantity"); w.quantity(i.plannedQuantity)
                if let c = i.consumedQuantity { w.key("consumed_quantity"); w.quantity(c) }
                w.endObject()
            }
            w.endArray()
        case .purchaseOrderUpserted(let o):
            w.key("order_id"); w.int(o.orderID)
            w.key("updated_at"); w.string(o.updatedAt.text)
            w.key("status"); w.string(o.status.rawValue)
            w.key("location_id"); w.int(o.locationID)
            w.key("rows"); w.beginArray()
            for r in o.rows {
                w.beginObject()
                w.key("row_id"); w.int(r.rowID)
                w.key("variant_id"); w.int(r.variantID)
                w.key("quantity"); w.quantity(r.quantity)
                if let q = r.receivedQuantity { w.key("received_quantity"); w.quantity(q) }
                if let q = r.conversionRate { w.key("conversion_rate"); w.quantity(q) }
                if let l = r.locationID { w.key("location_id"); w.int(l) }
                w.endObject()
            }
            w.endArray()
        case .stockAdjustmentUpserted(let a):
            w.key("adjustment_id"); w.int(a.adjustmentID)
            w.key("updated_at"); w.string(a.updatedAt.text)
            w.key("location_id"); w.int(a.locationID)
            w.key("rows"); w.beginArray()
            for r in a.rows {
                w.beginObject(); w.key("variant_id"); w.int(r.variantID); w.key("quantity"); w.quantity(r.quantity); w.endObject()
            }
            w.endArray()
        case .stockTransferUpserted(let t):
            w.key("transfer_id"); w.int(t.transferID)
            w.key("updated_at"); w.string(t.updatedAt.text)
            w.key("status"); w.string(t.status.rawValue)
            w.key("source_location_id"); w.int(t.sourceLocationID)
            w.key("target_location_id"); w.int(t.targetLocationID)
            w.key("rows"); w.beginArray()
            for r in t.rows {
                w.beginObject(); w.key("variant_id"); w.int(r.variantID); w.key("quantity"); w.quantity(r.quantity); w.endObject()
            }
            w.endArray()
        case .documentDeleted(let kind, let id):
            switch kind {
            case .stockAdjustment: w.key("adjustment_id")
            case .stockTransfer: w.key("transfer_id")
            default: w.key("order_id")
            }
            w.int(id)
        case .inventoryReconciled(let r):
            w.key("variant_id"); w.int(r.variantID)
            w.key("location_id"); w.int(r.locationID)
            w.key("in_stock"); w.quantity(r.inStock)
        case .storeConnected(let s):
            w.key("store"); w.string(s.store)
            w.key("url"); w.string(s.url)
            w.key("location_id"); w.int(s.locationID)
            w.key("stock_sync"); w.bool(s.stockSync)
            w.key("katana_orders_reduce_stock"); w.bool(s.katanaOrdersReduceStock)
            w.key("floor_at_zero"); w.bool(s.floorAtZero)
        case .storeReconfigured(let c):
            w.key("store"); w.string(c.store)
            if let v = c.url { w.key("url"); w.string(v) }
            if let v = c.locationID { w.key("location_id"); w.int(v) }
            if let v = c.stockSync { w.key("stock_sync"); w.bool(v) }
            if let v = c.katanaOrdersReduceStock { w.key("katana_orders_reduce_stock"); w.bool(v) }
            if let v = c.floorAtZero { w.key("floor_at_zero"); w.bool(v) }
        case .storeDisconnected(let s):
            w.key("store"); w.string(s)
        case .storeResyncRequested(let r):
            w.key("store"); w.string(r.store)
            if let ids = r.wooIDs {
                w.key("woo_ids"); w.beginArray()
                for id in ids { w.int(id) }
                w.endArray()
            }
        case .wooProductUpserted(let p):
            w.key("store"); w.string(p.store)
            w.key("woo_id"); w.int(p.wooID)
            w.key("parent_id"); w.int(p.parentID ?? 0)
            w.key("sku"); w.optionalString(p.sku)
            w.key("date_created"); w.optionalString(p.dateCreated?.text)
            if let t = p.type { w.key("type"); w.string(t) }
        case .wooProductDeleted(let store, let wooID):
            w.key("store"); w.string(store)
            w.key("woo_id"); w.int(wooID)
        case .wooStockAcknowledged(let a):
            w.key("store"); w.string(a.store)
            w.key("woo_id"); w.int(a.wooID)
            w.key("sent"); w.int(a.sent)
            w.key("echoed"); w.optionalInt(a.echoed)
        case .wooStockRejected(let r):
            w.key("store"); w.string(r.store)
            w.key("woo_id"); w.int(r.wooID)
            w.key("sent"); w.int(r.sent)
            w.key("code"); w.string(r.code)
            w.key("status"); w.int(r.status)
        }
        w.endObject()
    }
}
