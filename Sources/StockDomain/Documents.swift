/// Katana ids are integers; WooCommerce ids too.
public typealias VariantID = Int64
public typealias LocationID = Int64
public typealias WooID = Int64
/// A store's short slug (`main`, `eu-shop`).
public typealias StoreID = String

/// What a store id may be (SPEC §2.1: a short slug): 1 to 64 ASCII letters, digits, '-', '_'
/// or '.'.
public enum StoreSlug {
    public static let rule = "1 to 64 ASCII letters, digits, '-', '_' or '.'"

    /// `id` in quotes for an error message, anything outside printable ASCII escaped: a refused
    /// Kelvin sign would otherwise print as the "K" it looks like.
    public static func quoted(_ id: String) -> String {
        "'" + id.unicodeScalars.map { $0.escaped(asASCII: true) }.joined() + "'"
    }

    /// Checked on the UTF-8 bytes, not on characters: Swift compares characters with canonical
    /// equivalence (the Kelvin sign U+212A is "K" to it, "é" is one scalar or two), while SQLite
    /// compares ids byte for byte, so an id with two spellings would be one store to the fold
    /// and two rows to its tables. ASCII has one spelling per id.
    public static func isValid(_ id: String) -> Bool {
        var id = id
        return id.withUTF8 { bytes in
            (1...64).contains(bytes.count) && bytes.allSatisfy { b in
                switch b {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                     UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."): true
                default: false
                }
            }
        }
    }
}

/// A Katana variant: its SKU (variant code), kind, kit recipe and WooCommerce links.
public struct VariantDeclaration: Sendable, Equatable {
    public enum Kind: String, Sendable { case product, material }
    public struct Component: Sendable, Equatable { public var variantID: VariantID; public var quantity: Quantity }
    public struct WooLink: Sendable, Equatable { public var store: StoreID; public var wooID: WooID }

    public var variantID: VariantID
    public var sku: String?
    public var kind: Kind
    public var components: [Component]
    public var wooLinks: [WooLink]

    public init(variantID: VariantID, sku: String?, kind: Kind, components: [Component] = [], wooLinks: [WooLink] = []) {
        self.variantID = variantID; self.sku = sku; self.kind = kind; self.components = components; self.wooLinks = wooLinks
    }

    /// A variant a document names before it is declared (SPEC §2.6 rule 15).
    public static func undeclared(_ id: VariantID) -> VariantDeclaration {
        VariantDeclaration(variantID: id, sku: nil, kind: .product)
    }

    public var isKit: Bool { !components.isEmpty }
}

/// A sales order snapshot.
public struct SalesOrder: Sendable, Equatable {
    /// Stored by index in journal payloads: new statuses go at the end (see `EventType`).
    public enum Status: String, Sendable, CaseIterable {
        case pending = "PENDING", notShipped = "NOT_SHIPPED", partiallyPacked = "PARTIALLY_PACKED"
        case partiallyDelivered = "PARTIALLY_DELIVERED", packed = "PACKED", delivered = "DELIVERED"
        /// `PACKED`/`DELIVERED` are fully fulfilled and have no open rest (SPEC §2.6 rule 3).
        public var isFulfilled: Bool { self == .packed || self == .delivered }
    }
    public struct Row: Sendable, Equatable {
        public var rowID: Int64
        public var variantID: VariantID
        public var quantity: Quantity
        public var fulfilledQuantity: Quantity?
        public var locationID: LocationID?
    }
    public var orderID: Int64
    public var orderNo: String?
    public var updatedAt: Timestamp
    public var status: Status
    public var locationID: LocationID
    public var source: String
    public var store: StoreID?
    public var rows: [Row]

    /// Only orders whose source is exactly `woocommerce` count for an opted-out store (rule 9).
    public var isFromWooCommerce: Bool { source == "woocommerce" }
}

/// A manufacturing order snapshot. Ingredient quantities are totals for the order (rule 4).
public struct ManufacturingOrder: Sendable, Equatable {
    /// Stored by index in journal payloads: new statuses go at the end (see `EventType`).
    public enum Status: String, Sendable, CaseIterable {
        case notStarted = "NOT_STARTED", blocked = "BLOCKED", inProgress = "IN_PROGRESS"
        case partiallyCompleted = "PARTIALLY_COMPLETED", done = "DONE"
    }
    public struct Ingredient: Sendable, Equatable {
        public var variantID: VariantID
        public var plannedQuantity: Quantity
        public var consumedQuantity: Quantity?
    }
    public var orderID: Int64
    public var updatedAt: Timestamp
    public var status: Status
    public var locationID: LocationID
    public var variantID: VariantID
    public var plannedQuantity: Quantity
    public var completedQuantity: Quantity?
    public var ingredients: [Ingredient]
}

/// A purchase order snapshot.
public struct PurchaseOrder: Sendable, Equatable {
    /// Stored by index in journal payloads: new statuses go at the end (see `EventType`).
    public enum Status: String, Sendable, CaseIterable {
        case draft = "DRAFT", notReceived = "NOT_RECEIVED", partiallyReceived = "PARTIALLY_RECEIVED", received = "RECEIVED"
    }
    public struct Row: Sendable, Equatable {
        public var rowID: Int64
        public var variantID: VariantID
        public var quantity: Quantity
        public var receivedQuantity: Quantity?
        public var conversionRate: Quantity?
        public var locationID: LocationID?
    }
    public var orderID: Int64
    public var updatedAt: Timestamp
    public var status: Status
    public var locationID: LocationID
    public var rows: [Row]
}

/// A stock adjustment snapshot; row quantities are signed deltas.
public struct StockAdjustment: Sendable, Equatable {
    public struct Row: Sendable, Equatable { public var variantID: VariantID; public var quantity: Quantity }
    public var adjustmentID: Int64
    public var updatedAt: Timestamp
    public var locationID: LocationID
    public var rows: [Row]
}

/// A stock transfer snapshot.
public struct StockTransfer: Sendable, Equatable {
    /// Stored by index in journal payloads: new statuses go at the end (see `EventType`).
    public enum Status: String, Sendable, CaseIterable { case draft, inTransit = "in_transit", received }
    public struct Row: Sendable, Equatable { public var variantID: VariantID; public var quantity: Quantity }
    public var transferID: Int64
    public var updatedAt: Timestamp
    public var status: Status
    public var sourceLocationID: LocationID
    public var targetLocationID: LocationID
    public var rows: [Row]
}

/// Katana's authoritative In stock for one variant at one location.
public struct InventoryReconciliation: Sendable, Equatable {
    public var variantID: VariantID
    public var locationID: LocationID
    public var inStock: Quantity
    public init(variantID: VariantID, locationID: LocationID, inStock: Quantity) {
        self.variantID = variantID; self.locationID = locationID; self.inStock = inStock
    }
}

/// A store's settings as connected (SPEC §2.1).
public struct StoreSettings: Sendable, Equatable {
    public var store: StoreID
    public var url: String
    public var locationID: LocationID
    public var stockSync: Bool
    public var katanaOrdersReduceStock: Bool
    public var floorAtZero: Bool

    public init(store: StoreID, url: String, locationID: LocationID, stockSync: Bool,
                katanaOrdersReduceStock: Bool = true, floorAtZero: Bool = false) {
        self.store = store; self.url = url; self.locationID = locationID; self.stockSync = stockSync
        self.katanaOrdersReduceStock = katanaOrdersReduceStock; self.floorAtZero = floorAtZero
    }

    /// The opt-out only has an effect while sync is on (SPEC §2.6 rule 10).
    public var countsOnlyWooCommerceOrders: Bool { stockSync && !katanaOrdersReduceStock }
}

extension StoreSettings {
    /// Why a URL carrying credentials is refused; the URL itself is never repeated.
    public static let credentialsInURLMessage =
        "must not carry credentials (user:password@host); they belong in the credentials file, never in the journal (the URL is not repeated here)"

    /// Whether `url` carries credentials in its authority (`https://user:password@host`). A
    /// store's URL is journal content, shown by `store list` and in messages; credentials
    /// belong in the credentials file only, so such a URL is refused, and never echoed.
    public static func urlCarriesCredentials(_ url: String) -> Bool {
        let bytes = Array(url.utf8)
        var i = 0
        while i + 2 < bytes.count, !(bytes[i] == UInt8(ascii: ":") && bytes[i + 1] == UInt8(ascii: "/") && bytes[i + 2] == UInt8(ascii: "/")) { i += 1 }
        guard i + 2 < bytes.count else { return false }
        // The authority runs from after "://" to the first '/', '?' or '#' (RFC 3986 §3.2).
        for b in bytes[(i + 3)...] {
            if b == UInt8(ascii: "/") || b == UInt8(ascii: "?") || b == UInt8(ascii: "#") { return false }
            if b == UInt8(ascii: "@") { return true }
        }
        return false
    }
}

/// A partial change of store settings; nil fields stay as they are.
public struct StoreChange: Sendable, Equatable {
    public var store: StoreID
    public var url: String?
    public var locationID: LocationID?
    public var stockSync: Bool?
    public var katanaOrdersReduceStock: Bool?
    public var floorAtZero: Bool?

    public init(store: StoreID, url: String? = nil, locationID: LocationID? = nil, stockSync: Bool? = nil,
                katanaOrdersReduceStock: Bool? = nil, floorAtZero: Bool? = nil) {
        self.store = store; self.url = url; self.locationID = locationID; self.stockSync = stockSync
        self.katanaOrdersReduceStock = katanaOrdersReduceStock; self.floorAtZero = floorAtZero
    }

    public func applied(to settings: StoreSettings) -> StoreSettings {
        var s = settings
        if let url { s.url = url }
        if let locationID { s.locationID = locationID }
        if let stockSync { s.stockSync = stockSync }
        if let katanaOrdersReduceStock { s.katanaOrdersReduceStock = katanaOrdersReduceStock }
        if let floorAtZero { s.floorAtZero = floorAtZero }
        return s
    }
}

/// A WooCommerce product or variation in a store's catalogue.
public struct WooProduct: Sendable, Equatable {
    public var store: StoreID
    public var wooID: WooID
    /// The variable parent for a variation; nil (0 on the wire) for a product.
    public var parentID: WooID?
    public var sku: String?
    public var dateCreated: Timestamp?
    public var type: String?

    public init(store: StoreID, wooID: WooID, parentID: WooID? = nil, sku: String? = nil,
                dateCreated: Timestamp? = nil, type: String? = nil) {
        self.store = store; self.wooID = wooID; self.parentID = parentID; self.sku = sku
        self.dateCreated = dateCreated; self.type = type
    }
}

/// A store confirmed a stock value (appended by the dispatcher).
public struct StockAcknowledgement: Sendable, Equatable {
    public var store: StoreID
    public var wooID: WooID
    public var sent: Int64
    public var echoed: Int64?
    public init(store: StoreID, wooID: WooID, sent: Int64, echoed: Int64?) {
        self.store = store; self.wooID = wooID; self.sent = sent; self.echoed = echoed
    }
}

/// A resync of a store (SPEC §2.6 rule 11): every matched product's current value, or only
/// the listed products' (an extension of SPEC §3.2's `store.resync_requested`: a merchant
/// fixing a few products, or pushing the ones a refresh newly matched, need not push the
/// whole portfolio).
public struct ResyncRequest: Sendable, Equatable {
    public var store: StoreID
    /// The WooCommerce products to push, in the order given; nil: every matched product.
    public var wooIDs: [WooID]?
    public init(store: StoreID, wooIDs: [WooID]? = nil) {
        self.store = store; self.wooIDs = wooIDs
    }
}

/// A store refused a stock value for good (appended by the dispatcher).
public struct StockRejection: Sendable, Equatable {
    public var store: StoreID
    public var wooID: WooID
    public var sent: Int64
    public var code: String
    public var status: Int64
    public init(store: StoreID, wooID: WooID, sent: Int64, code: String, status: Int64) {
        self.store = store; self.wooID = wooID; self.sent = sent; self.code = code; self.status = status
    }
}
