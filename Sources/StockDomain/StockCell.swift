/// Where a variant is stocked: one row of the `stock` table.
public struct CellKey: Hashable, Comparable, Sendable {
    public var variant: VariantID
    public var location: LocationID
    public init(_ variant: VariantID, _ location: LocationID) { self.variant = variant; self.location = location }
    public static func < (a: CellKey, b: CellKey) -> Bool { (a.variant, a.location) < (b.variant, b.location) }
    /// One word into the hasher instead of two: cells are the hottest dictionary of the fold.
    public func hash(into hasher: inout Hasher) { hasher.combine(variant &* 0x9E37_79B9 ^ location) }
}

/// Per variant and location: In stock, Katana's displayed Committed, Expected, and the direct
/// sales commitments that count for sync — all of them, and those of WooCommerce orders alone,
/// so each store's `committed_for_sync` is a choice between two sums (SPEC §2.2).
public struct StockCell: Equatable, Sendable {
    public var inStock = Quantity.zero
    public var committedTotal = Quantity.zero
    public var expected = Quantity.zero
    /// Open direct sales rows, every source.
    public var committedSync = Quantity.zero
    /// Open direct sales rows of orders whose source is `woocommerce`.
    public var committedSyncWooCommerce = Quantity.zero

    public init() {}
    public init(inStock: Quantity, committedTotal: Quantity, expected: Quantity, committedSync: Quantity, committedSyncWooCommerce: Quantity) {
        self.inStock = inStock; self.committedTotal = committedTotal; self.expected = expected
        self.committedSync = committedSync; self.committedSyncWooCommerce = committedSyncWooCommerce
    }

    public subscript(field: EffectField) -> Quantity {
        get {
            switch field {
            case .inStock: return inStock
            case .committedTotal: return committedTotal
            case .expected: return expected
            case .committedSync: return committedSync
            case .committedSyncWooCommerce: return committedSyncWooCommerce
            }
        }
        set {
            switch field {
            case .inStock: inStock = newValue
            case .committedTotal: committedTotal = newValue
            case .expected: expected = newValue
            case .committedSync: committedSync = newValue
            case .committedSyncWooCommerce: committedSyncWooCommerce = newValue
            }
        }
    }

    /// The commitments that reduce what `settings` receives (SPEC §2.2, rule 9 and 10).
    public func committedForSync(_ settings: StoreSettings) -> Quantity { committedForSync(settings.syncRule) }

    func committedForSync(_ rule: SyncRule) -> Quantity {
        rule.onlyWooCommerceOrders ? committedSyncWooCommerce : committedSync
    }

    /// synced(v, s) = floor(in_stock − committed_for_sync), or 0 at least with `floor_at_zero`.
    public func synced(_ settings: StoreSettings) -> Int64 { synced(settings.syncRule) }

    func synced(_ rule: SyncRule) -> Int64 {
        let committed = committedForSync(rule)
        let value: Int64
        if let difference = inStock.subtracting(committed) {
            value = difference.floor
        } else {
            value = inStock > committed ? Int64.max : Int64.min
        }
        return rule.floorAtZero ? Swift.max(0, value) : value
    }
}

/// The part of a store's settings the synced quantity depends on: two flags, no strings, so
/// the fold's trigger loop copies it without touching reference counts.
struct SyncRule: Sendable, Equatable {
    var onlyWooCommerceOrders: Bool
    var floorAtZero: Bool
}

extension StoreSettings {
    var syncRule: SyncRule { SyncRule(onlyWooCommerceOrders: countsOnlyWooCommerceOrders, floorAtZero: floorAtZero) }
}

/// Which number of a cell an effect moves. The raw values are stored in packed effects (the
/// `documents` table): never renumber them.
public enum EffectField: UInt8, Sendable, CaseIterable {
    case inStock = 0, committedTotal, expected, committedSync, committedSyncWooCommerce
}

/// One frozen contribution of a document to a cell (SPEC §2.6 rule 2): removed exactly as it
/// was applied when the next snapshot or the deletion arrives.
public struct Effect: Equatable, Sendable {
    public var cell: CellKey
    public var field: EffectField
    public var amount: Quantity
    public init(_ cell: CellKey, _ field: EffectField, _ amount: Quantity) {
        self.cell = cell; self.field = field; self.amount = amount
    }
}

/// What the projection remembers of one document: the instant of the applied snapshot, the
/// position of the event that carried it, whether it was deleted, and its frozen effects.
public struct DocumentRecord: Equatable, Sendable {
    public var updatedAt: Instant?
    public var position: Int64
    public var deleted: Bool
    public var effects: EffectList
    public init(updatedAt: Instant?, position: Int64, deleted: Bool, effects: EffectList) {
        self.updatedAt = updatedAt; self.position = position; self.deleted = deleted; self.effects = effects
    }
}

/// Identifies a Katana document across its snapshots.
public struct DocumentKey: Hashable, Sendable {
    public var kind: DocumentKind
    public var id: Int64
    public init(_ kind: DocumentKind, _ id: Int64) { self.kind = kind; self.id = id }
}

/// Where document records live. The fold reads and writes them through this, so the engine
/// can keep them in SQLite (memory does not grow with the journal) and tests in a dictionary.
public protocol DocumentStore {
    /// Hands `body` the record of `key` (nil: none yet) to read and replace in place: one
    /// lookup where a read and then a write would take two.
    mutating func withRecord<R>(for key: DocumentKey, _ body: (inout DocumentRecord?) throws -> R) throws -> R
}

/// Document records in memory, for tests and small replays.
public struct InMemoryDocuments: DocumentStore, Sendable {
    public var records: [DocumentKey: DocumentRecord] = [:]
    public init() {}
    public mutating func withRecord<R>(for key: DocumentKey, _ body: (inout DocumentRecord?) throws -> R) rethrows -> R {
        try body(&records[key])
    }
}
