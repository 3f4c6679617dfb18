import StockDomain

/// A product or variation as the REST API returns it, read leniently (ids and quantities may
/// come as numeric strings, `manage_stock` may be `"parent"`, dates have no offset).
public struct WooProductRecord: Sendable, Equatable {
    public var id: Int64
    public var parentID: Int64
    public var type: String
    public var sku: String
    public var status: String?
    /// `date_created_gmt` as sent (UTC, no offset), or nil.
    public var dateCreatedGMT: String?
    /// true, false, or nil for `"parent"` (stock managed by the variable parent).
    public var manageStock: Bool?
    public var stockQuantity: Int64?
    /// Variation ids of a variable product.
    public var variations: [Int64]

    public init(id: Int64, parentID: Int64 = 0, type: String = "simple", sku: String = "", status: String? = "publish",
                dateCreatedGMT: String? = nil, manageStock: Bool? = true, stockQuantity: Int64? = nil, variations: [Int64] = []) {
        self.id = id; self.parentID = parentID; self.type = type; self.sku = sku; self.status = status
        self.dateCreatedGMT = dateCreatedGMT; self.manageStock = manageStock; self.stockQuantity = stockQuantity
        self.variations = variations
    }

    public init?(json: JSONValue) {
        guard case .object(let members) = json else { return nil }
        func value(_ key: String) -> JSONValue? { members.first { $0.key == key }?.value }
        guard let id = value("id").flatMap(WooProductRecord.integer) else { return nil }
        self.id = id
        parentID = value("parent_id").flatMap(WooProductRecord.integer) ?? 0
        type = value("type").flatMap(WooProductRecord.string) ?? "simple"
        sku = value("sku").flatMap(WooProductRecord.string) ?? ""
        status = value("status").flatMap(WooProductRecord.string)
        dateCreatedGMT = value("date_created_gmt").flatMap(WooProductRecord.string)
        switch value("manage_stock") {
        case .bool(let b)?: manageStock = b
        case .string("parent")?: manageStock = nil
        default: manageStock = false
        }
        stockQuantity = value("stock_quantity").flatMap(WooProductRecord.integer)
        if case .array(let ids)? = value("variations") { variations = ids.compactMap(WooProductRecord.integer) } else { variations = [] }
    }

    static func integer(_ v: JSONValue) -> Int64? {
        switch v {
        case .number(let t), .string(let t): return Int64(t) ?? Int64(t.split(separator: ".").first ?? "")
        default: return nil
        }
    }

    static func string(_ v: JSONValue) -> String? {
        if case .string(let s) = v { return s }
        return nil
    }

    /// The catalogue entry the journal records for this product (SPEC §3.2 `woo.product.upserted`).
    public func catalogueEntry(store: StoreID) -> WooProduct {
        let date = dateCreatedGMT.flatMap { text in Instant.parse(text, offsetOptional: true).map { Timestamp(text: text, instant: $0) } }
        return WooProduct(store: store, wooID: id, parentID: parentID == 0 ? nil : parentID, sku: sku.isEmpty ? nil : sku,
                          dateCreated: date, type: type)
    }

    /// The JSON the REST API would answer for this record (the sandbox uses it).
    public func json(extra: [JSONMember] = []) -> JSONValue {
        var members: [JSONMember] = [
            JSONMember("id", .number(String(id))),
            JSONMember("name", .string(sku.isEmpty ? "Product \(id)" : sku)),
            JSONMember("type", .string(type)),
            JSONMember("status", status.map { .string($0) } ?? .null),
            JSONMember("sku", .string(sku)),
            JSONMember("parent_id", .number(String(parentID))),
            JSONMember("date_created", dateCreatedGMT.map { .string($0) } ?? .null),
            JSONMember("date_created_gmt", dateCreatedGMT.map { .string($0) } ?? .null),
            JSONMember("manage_stock", manageStock.map { .bool($0) } ?? .string("parent")),
            JSONMember("stock_quantity", stockQuantity.map { .number(String($0)) } ?? .null),
            JSONMember("stock_status", .string(stockStatus)),
        ]
        if type == "variable" { members.append(JSONMember("variations", .array(variations.map { .number(String($0)) }))) }
        members.append(contentsOf: extra)
        return .object(members)
    }

    /// Derived as WooCommerce does when stock is managed, here or by the parent (threshold 0, no
    /// backorders).
    public var stockStatus: String {
        guard manageStock != false, let q = stockQuantity else { return "instock" }
        return q > 0 ? "instock" : "outofstock"
    }
}

extension JSONValue {
    /// Compact JSON text.
    public var text: String {
        var w = JSONWriter()
        w.write(self)
        return w.text
    }
}

extension JSONWriter {
    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let t): raw(t)
        case .string(let s): string(s)
        case .array(let items):
            beginArray()
            for i in items { write(i) }
            endArray()
        case .object(let members):
            beginObject()
            for m in members { key(m.key); write(m.value) }
            endObject()
        }
    }
}
