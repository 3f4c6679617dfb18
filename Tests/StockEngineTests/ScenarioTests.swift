import Foundation
import StockDomain
import StockEngine
import StockSyncTesting
import Testing

/// Every scenario in Fixtures/scenarios: a small history for one rule, with the `stock --json`
/// and `outbox --json` worked out by hand (see each scenario's RULE.md).
@Suite("Scenario fixtures (one per rule of the seed and SPEC §2)")
struct ScenarioTests {
    static let names = Checkout.scenarioNames()

    @Test("the fixture set covers every rule the core-engine issue lists")
    func fixtureSetIsComplete() {
        for required in ["opt-out-katana-orders", "kits", "subassembly-commitments", "partial-fulfilment",
                         "duplicate-skus-creation-dates", "woo-id-fallback", "variations", "two-stores-one-location",
                         "stock-sync-off", "location-mapping", "edits-and-deletions", "out-of-order-snapshots", "transfers",
                         "decimals-and-flooring"] {
            #expect(Self.names.contains(required), "missing scenario \(required)")
        }
        #expect(Self.names.count >= 20)
    }

    @Test("stock --json and outbox --json match the hand-computed expectation", arguments: names)
    func scenario(_ name: String) throws {
        let dir = Checkout.scenario(name)
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let journal = try Journal(path: tmp.path("s.db"), writable: true)
        _ = try journal.ingest([dir.appendingPathComponent("events.jsonl").path])
        let view = try journal.state()
        let stock = Render.stockJSON(position: view.projection.position, rows: try view.projection.stockRows())
        let outbox = Render.outboxJSON(view.projection)
        #expect(try JSONReader.parse(stock) == expected(dir, "expected-stock.json"), "stock of \(name):\n\(stock)")
        #expect(try JSONReader.parse(outbox) == expected(dir, "expected-outbox.json"), "outbox of \(name):\n\(outbox)")
        #expect(try journal.verify().isEmpty, "replay --verify of \(name)")
    }

    func expected(_ dir: URL, _ file: String) throws -> JSONValue {
        try JSONReader.parse(String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8))
    }
}
