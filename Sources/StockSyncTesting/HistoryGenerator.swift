import StockDomain

/// A small, fast, seeded PRNG (SplitMix64): the same seed gives the same history everywhere.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Generates valid, realistic-looking journal histories in the interchange format: every
/// document type with edits, fulfilments, out-of-order and duplicate deliveries, deletions,
/// kits, several stores and locations, dispatcher acknowledgements and resyncs; popular
/// variants are chosen far more often than others (skewed popularity).
public struct HistoryGenerator {
    public struct Shape: Sendable {
        public var variants: Int
        public var locations: Int
        public var stores: Int
        public init(variants: Int = 10_000, locations: Int = 3, stores: Int = 2) {
            self.variants = variants; self.locations = locations; self.stores = stores
        }
    }

    var random: SeededRandom
    let shape: Shape
    var clock: Int64 = 1_764_000_000
    var emitted = 0
    var recentIDs: [String] = []
    var deletedDocuments = Set<String>()
    var storeSync: [Bool]

    public init(seed: UInt64, shape: Shape = Shape()) {
        random = SeededRandom(seed: seed)
        self.shape = shape
        storeSync = Array(repeating: true, count: shape.stores)
    }

    func storeName(_ i: Int) -> String { i == 0 ? "main" : "store\(i)" }
    func storeLocation(_ i: Int) -> Int { (i % shape.locations) + 1 }

    /// A popular-skewed variant id in 1...variants.
    mutating func variant() -> Int {
        let u = Double(random.next() >> 11) / Double(1 << 53)
        return 1 + Int(Double(shape.variants) * u * u * u) % shape.variants
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &random) }
    mutating func chance(_ p: Double) -> Bool { Double(random.next() >> 11) / Double(1 << 53) < p }

    mutating func quantity() -> String {
        switch int(0...9) {
        case 0: return "\"\(int(0...40)).\(int(0...99))\""
        case 1: return "\(int(0...20)).5"
        default: return String(int(0...12))
        }
    }

    mutating func timestamp(back: Bool = false) -> String {
        clock += Int64(int(0...3))
        let t = back ? clock - Int64(int(100...5000)) : clock
        return Instant(seconds: t).rfc3339Seconds
    }

    mutating func line(_ type: String, _ data: String, id: String? = nil) -> String {
        emitted += 1
        let id = id ?? "e\(emitted)-\(random.next() % 1_000_000)"
        if recentIDs.count < 64 { recentIDs.append(id) } else { recentIDs[int(0...63)] = id }
        return "{\"id\":\"\(id)\",\"type\":\"\(type)\",\"at\":\"\(Instant(seconds: clock).rfc3339Seconds)\",\"data\":{\(data)}}"
    }

    /// The set-up: stores, catalogues, variants (with kits and links), starting inventory.
    public mutating func preamble() -> [String] {
        var lines: [String] = []
        for s in 0..<shape.stores {
            lines.append(line("store.connected", "\"store\":\"\(storeName(s))\",\"url\":\"https://\(storeName(s)).example.com\",\"location_id\":\(storeLocation(s)),\"stock_sync\":true\(s == 1 ? ",\"katana_orders_reduce_stock\":false" : "")"))
        }
        for v in 1...shape.variants {
            // Most variants are sold in every store; some are variations, a few duplicate a SKU.
            for s in 0..<shape.stores where v % 10 != 7 {
                let woo = s * 1_000_000 + v
                let parent = v % 10 == 3 ? s * 1_000_000 + 900_000 + v / 10 : 0
                let sku = v % 50 == 9 ? "SKU-\(v - 1)" : "SKU-\(v)"
                lines.append(line("woo.product.upserted", "\"store\":\"\(storeName(s))\",\"woo_id\":\(woo),\"parent_id\":\(parent),\"sku\":\"\(sku)\",\"date_created\":\"2025-0\(1 + v % 9)-01T00:00:00\""))
            }
            var extra = ""
            if v % 25 == 0 && v > 2 {
                extra = ",\"components\":[{\"variant_id\":\(v - 1),\"quantity\":2},{\"variant_id\":\(v - 2),\"quantity\":\"0.5\"}]"
            }
            if v % 10 == 7 { extra += ",\"woo_links\":[{\"store\":\"main\",\"woo_id\":\(v)}]" }
            let sku = v % 100 == 1 ? "null" : "\"SKU-\(v)\""
            lines.append(line("variant.upserted", "\"variant_id\":\(v),\"sku\":\(sku),\"kind\":\"\(v % 5 == 0 ? "material" : "product")\"\(extra)"))
        }
        for v in 1...shape.variants where v % 3 != 0 {
            lines.append(line("inventory.reconciled", "\"variant_id\":\(v),\"location_id\":\(1 + v % shape.locations),\"in_stock\":\"\(int(0...500))\""))
        }
        return lines
    }

    /// The next event of the body of the history.
    public mutating func next() -> String {
        let roll = int(0...99)
        let loc = int(1...shape.locations)
        switch roll {
        case 0..<34: return salesOrder(loc)
        case 34..<42: return manufacturingOrder(loc)
        case 42..<50: return purchaseOrder(loc)
        case 50..<62:
            let rows = (0..<int(1...3)).map { _ in "{\"variant_id\":\(variant()),\"quantity\":\(chance(0.5) ? "-\(int(1...9))" : quantity())}" }
            return document("stock_adjustment", idKey: "adjustment_id", id: int(1...shape.variants), "\"location_id\":\(loc),\"rows\":[\(rows.joined(separator: ","))]")
        case 62..<68:
            let statuses = ["draft", "in_transit", "received"]
            let target = loc % shape.locations + 1
            let rows = (0..<int(1...2)).map { _ in "{\"variant_id\":\(variant()),\"quantity\":\(quantity())}" }
            return document("stock_transfer", idKey: "transfer_id", id: int(1...shape.variants / 4 + 1),
                            "\"status\":\"\(statuses[int(0...2)])\",\"source_location_id\":\(loc),\"target_location_id\":\(target),\"rows\":[\(rows.joined(separator: ","))]")
        case 68..<72:
            return line("inventory.reconciled", "\"variant_id\":\(variant()),\"location_id\":\(loc),\"in_stock\":\(quantity())")
        case 72..<86:
            let s = int(0...shape.stores - 1)
            let v = variant()
            let woo = s * 1_000_000 + v
            let sent = int(-3...60)
            if chance(0.9) {
                return line("woo.stock.acknowledged", "\"store\":\"\(storeName(s))\",\"woo_id\":\(woo),\"sent\":\(sent),\"echoed\":\(chance(0.95) ? String(sent) : "null")")
            }
            return line("woo.stock.rejected", "\"store\":\"\(storeName(s))\",\"woo_id\":\(woo),\"sent\":\(sent),\"code\":\"rest_invalid_param\",\"status\":400")
        case 86..<89:
            let v = variant()
            let sku = chance(0.1) ? "SKU-\(v + 1)" : "SKU-\(v)"
            let kit = v % 25 == 0 && v > 2 && chance(0.5) ? ",\"components\":[{\"variant_id\":\(v - 1),\"quantity\":3}]" : ""
            return line("variant.upserted", "\"variant_id\":\(v),\"sku\":\"\(sku)\",\"kind\":\"product\"\(kit)")
        case 89..<91:
            let s = int(0...shape.stores - 1)
            let v = variant()
            if chance(0.3) { return line("woo.product.deleted", "\"store\":\"\(storeName(s))\",\"woo_id\":\(s * 1_000_000 + v)") }
            return line("woo.product.upserted", "\"store\":\"\(storeName(s))\",\"woo_id\":\(s * 1_000_000 + v),\"parent_id\":0,\"sku\":\"SKU-\(v)\",\"date_created\":\"2026-0\(1 + int(0...8))-01T00:00:00Z\"")
        case 91 where chance(0.1):
            // Operators reconfigure rarely: about once per thousand changes here.
            let s = int(0...shape.stores - 1)
            storeSync[s].toggle()
            return line("store.reconfigured", "\"store\":\"\(storeName(s))\",\"stock_sync\":\(storeSync[s]),\"floor_at_zero\":\(chance(0.5))")
        case 92 where chance(0.002):
            // A full-portfolio resync is a rare, deliberate operation (about 1 in 50,000 events).
            return line("store.resync_requested", "\"store\":\"\(storeName(int(0...shape.stores - 1)))\"")
        case 93..<96 where !recentIDs.isEmpty:
            // A duplicate delivery of a recent event: skipped by id.
            return line("stock_adjustment.upserted", "\"adjustment_id\":1,\"updated_at\":\"\(timestamp())\",\"location_id\":1,\"rows\":[]", id: recentIDs[int(0...recentIDs.count - 1)])
        default:
            let kinds = [("sales_order", "order_id"), ("manufacturing_order", "order_id"), ("purchase_order", "order_id"), ("stock_adjustment", "adjustment_id")]
            let (kind, key) = kinds[int(0...3)]
            let id = int(1...max(1, shape.variants / 2))
            deletedDocuments.insert("\(kind)-\(id)")
            return line("\(kind).deleted", "\"\(key)\":\(id)")
        }
    }

    mutating func document(_ kind: String, idKey: String, id: Int, _ body: String) -> String {
        // Occasionally an out-of-order (older) snapshot.
        let updated = timestamp(back: chance(0.05))
        return line("\(kind).upserted", "\"\(idKey)\":\(id),\"updated_at\":\"\(updated)\",\(body)")
    }

    mutating func salesOrder(_ loc: Int) -> String {
        let statuses = ["PENDING", "NOT_SHIPPED", "PARTIALLY_PACKED", "PARTIALLY_DELIVERED", "PACKED", "DELIVERED"]
        let status = statuses[int(0...5)]
        let rows = (0..<int(1...3)).enumerated().map { i, _ -> String in
            let fulfilled = status.hasPrefix("PARTIALLY") || chance(0.1) ? ",\"fulfilled_quantity\":\(int(0...3))" : ""
            let rowLoc = chance(0.05) ? ",\"location_id\":\(int(1...shape.locations))" : ""
            return "{\"row_id\":\(i + 1),\"variant_id\":\(variant()),\"quantity\":\(quantity())\(fulfilled)\(rowLoc)}"
        }
        let source = ["katana", "woocommerce", "woocommerce", "amazon"][int(0...3)]
        let store = source == "woocommerce" ? ",\"store\":\"\(storeName(int(0...shape.stores - 1)))\"" : ""
        return document("sales_order", idKey: "order_id", id: int(1...max(1, shape.variants * 3)),
                        "\"order_no\":\"SO-\(int(1...99999))\",\"status\":\"\(status)\",\"location_id\":\(loc),\"source\":\"\(source)\"\(store),\"rows\":[\(rows.joined(separator: ","))]")
    }

    mutating func manufacturingOrder(_ loc: Int) -> String {
        let statuses = ["NOT_STARTED", "BLOCKED", "IN_PROGRESS", "PARTIALLY_COMPLETED", "DONE"]
        let status = statuses[int(0...4)]
        let completed = status == "PARTIALLY_COMPLETED" ? ",\"completed_quantity\":\(int(0...5))" : ""
        let ingredients = (0..<int(1...3)).map { _ in
            "{\"variant_id\":\(variant()),\"planned_quantity\":\(quantity())\(chance(0.3) ? ",\"consumed_quantity\":\(int(0...4))" : "")}"
        }
        return document("manufacturing_order", idKey: "order_id", id: int(1...max(1, shape.variants)),
                        "\"status\":\"\(status)\",\"location_id\":\(loc),\"variant_id\":\(variant()),\"planned_quantity\":\(int(1...20))\(completed),\"ingredients\":[\(ingredients.joined(separator: ","))]")
    }

    mutating func purchaseOrder(_ loc: Int) -> String {
        let statuses = ["DRAFT", "NOT_RECEIVED", "PARTIALLY_RECEIVED", "RECEIVED"]
        let status = statuses[int(0...3)]
        let rows = (0..<int(1...3)).enumerated().map { i, _ -> String in
            let received = status == "PARTIALLY_RECEIVED" ? ",\"received_quantity\":\(int(0...10))" : ""
            let rate = chance(0.2) ? ",\"conversion_rate\":\"\(["2", "0.5", "12", "1.25"][int(0...3)])\"" : ""
            return "{\"row_id\":\(i + 1),\"variant_id\":\(variant()),\"quantity\":\(int(1...50))\(received)\(rate)}"
        }
        return document("purchase_order", idKey: "order_id", id: int(1...max(1, shape.variants)),
                        "\"status\":\"\(status)\",\"location_id\":\(loc),\"rows\":[\(rows.joined(separator: ","))]")
    }

    /// A whole history: the preamble, then `events` body events.
    public mutating func history(events: Int) -> [String] {
        var lines = preamble()
        lines.reserveCapacity(lines.count + events)
        for _ in 0..<events { lines.append(next()) }
        return lines
    }
}

extension Instant {
    /// `2026-11-26T10:00:00Z`.
    public var rfc3339Seconds: String {
        let text = description
        return String(text.prefix(19)) + "Z"
    }
}
