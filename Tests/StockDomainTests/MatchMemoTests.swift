@testable import StockDomain
import Testing

/// The match memo is an optimisation only: every answer it gives must equal a fresh `match`.
/// Histories here are dense in exactly what invalidation must get right — shared SKUs, links
/// contending with SKU matches, products changing SKU, variants deleted and redeclared.
@Suite("Match memo (SPEC §2.5, §2.6 rule 12)")
struct MatchMemoTests {
    @Test("after every catalogue and variant change, each memoized match equals a fresh one", arguments: 1...25)
    func memoNeverStale(seed: Int) throws {
        var rng = SplitMix(seed: UInt64(seed))
        var projection = Projection()
        projection.checksMatchMemo = true
        var documents = InMemoryDocuments()
        var position: Int64 = 0
        func apply(_ payload: EventPayload) throws {
            position += 1
            try projection.apply(payload, at: position, documents: &documents)
        }
        let stores = ["a", "b"]
        for (i, s) in stores.enumerated() {
            try apply(.storeConnected(StoreSettings(store: s, url: "https://\(s).example", locationID: Int64(i + 1), stockSync: true)))
        }
        let skus: [String?] = ["A", "B", "C", "", nil]
        let dates = ["2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z", nil]
        for _ in 0..<400 {
            let store = stores[rng.below(2)]
            switch rng.below(4) {
            case 0:
                var links: [VariantDeclaration.WooLink] = []
                for _ in 0..<rng.below(3) { links.append(.init(store: stores[rng.below(2)], wooID: Int64(1 + rng.below(8)))) }
                try apply(.variantUpserted(VariantDeclaration(variantID: Int64(1 + rng.below(10)), sku: skus[rng.below(skus.count)],
                                                              kind: .product, wooLinks: links)))
            case 1:
                try apply(.variantDeleted(Int64(1 + rng.below(10))))
            case 2:
                let date = dates[rng.below(dates.count)].flatMap { t in Instant.parse(t).map { Timestamp(text: t, instant: $0) } }
                try apply(.wooProductUpserted(WooProduct(store: store, wooID: Int64(1 + rng.below(8)), sku: skus[rng.below(skus.count)], dateCreated: date)))
            default:
                try apply(.wooProductDeleted(store: store, wooID: Int64(1 + rng.below(8))))
            }
            // Ask for every match, so the memo is full when the next change arrives.
            for s in stores { for v in 1...10 { _ = projection.matchedWooID(Int64(v), store: s) } }
        }
        #expect(projection.staleMatchMemoHits == 0)
    }

    @Test("the match summary counts variants matched by SKU, by link, and those with a SKU or link that match nothing")
    func matchSummary() throws {
        var projection = Projection()
        var documents = InMemoryDocuments()
        var position: Int64 = 0
        func apply(_ payload: EventPayload) throws {
            position += 1
            try projection.apply(payload, at: position, documents: &documents)
        }
        try apply(.storeConnected(StoreSettings(store: "a", url: "https://a.example", locationID: 1, stockSync: true)))
        try apply(.wooProductUpserted(WooProduct(store: "a", wooID: 1, sku: "A")))
        try apply(.wooProductUpserted(WooProduct(store: "a", wooID: 2, sku: "b")))
        try apply(.variantUpserted(VariantDeclaration(variantID: 1, sku: "A", kind: .product)))                    // by SKU
        try apply(.variantUpserted(VariantDeclaration(variantID: 2, sku: "B", kind: .product,
                                                      wooLinks: [.init(store: "a", wooID: 2)])))                   // "b" ≠ "B": by link
        try apply(.variantUpserted(VariantDeclaration(variantID: 3, sku: "C", kind: .product)))                    // nothing
        try apply(.variantUpserted(VariantDeclaration(variantID: 4, sku: "A", kind: .product)))                    // 1 took product 1
        try apply(.variantUpserted(VariantDeclaration(variantID: 5, sku: nil, kind: .material)))                   // nothing to match
        let summary = projection.matchSummary(store: "a")
        #expect(summary.bySKU == 1 && summary.byLink == 1 && summary.unmatched == 2)
    }
}

/// SplitMix64, so each seed gives the same history everywhere.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
