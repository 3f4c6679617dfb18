import AsyncHTTPClient
import Foundation
import NIOPosix
import StockDomain
import StockEngine
import StockSyncService
import StockSyncTesting
import WooCommerce
import WooCommerceSandbox

/// A journal, sandbox stores on loopback, and a dispatcher between them.
final class DispatchHarness {
    let tmp = TemporaryDirectory("stocksync-dispatch")
    let journal: Journal
    let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: WooClient.httpConfiguration())
    var servers: [StoreID: SandboxServer] = [:]
    var keys: [StoreID: Credentials] = [:]
    var policy = RetryPolicy(firstDelay: 0.05, maxDelay: 0.2)
    var counter = 0

    init() throws { journal = try Journal(path: tmp.path("h.db"), writable: true) }

    func close() async {
        try? await http.shutdown()
        for s in servers.values { try? await s.shutdown() }
        tmp.remove()
    }

    /// Starts a sandbox for `store` and connects it.
    func addStore(_ store: StoreID, location: Int64 = 1, seed: String, stockSync: Bool = true, reduce: Bool = true) async throws {
        let server = try await SandboxServer.start(consumerKey: "ck_\(store)", consumerSecret: "cs_\(store)", seed: try JSONReader.parse(seed))
        servers[store] = server
        keys[store] = Credentials(consumerKey: "ck_\(store)", consumerSecret: "cs_\(store)", requestsPerSecond: 1000, maxInFlight: 2)
        try journal.append([event(.storeConnected(StoreSettings(store: store, url: server.url, locationID: location, stockSync: stockSync,
                                                                katanaOrdersReduceStock: reduce)))])
    }

    func event(_ payload: EventPayload) -> Event {
        counter += 1
        return Event(id: "h\(counter)-\(UUID().uuidString)", at: Instant.now.description, payload: payload)
    }

    /// Ingests `lines` through the harness's journal, or through `other` (a connection of its
    /// own, as another process would).
    func ingest(_ lines: [String], through other: Journal? = nil) throws {
        let file = tmp.path("in\(counter).jsonl")
        counter += 1
        try lines.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        _ = try (other ?? journal).ingest([file])
    }

    /// Refreshes `store`, retrying passing failures on the harness's short delays; `said` gets
    /// the line said for each request sent again.
    func refresh(_ store: StoreID, said: Said? = nil) async throws -> RefreshReport {
        try await CatalogueRefresh.run(store: store, journal: journal, credentials: keys[store]!, http: http,
                                       patience: CatalogueRefresh.Patience(policy: policy, attempts: 5, longestWait: 30),
                                       retrying: { said?.append($0) })
    }

    /// Lines a refresh said, from whichever task said them.
    final class Said: @unchecked Sendable {
        private let lock = NSLock()
        private var said: [String] = []
        var lines: [String] { lock.withLock { said } }
        func append(_ line: String) { lock.withLock { said.append(line) } }
    }

    var credentialsFile: CredentialsFile { CredentialsFile(path: "(test)", stores: keys) }

    /// A dispatcher over the harness's journal, stores and keys.
    func dispatcher() -> Dispatcher {
        Dispatcher(journal: journal, credentials: credentialsFile, http: http, policy: policy)
    }

    func syncOnce(_ stores: [StoreID]? = nil) async throws -> Int32 {
        try await dispatcher().runOnce(stores: stores ?? servers.keys.sorted()).code
    }

    /// Runs `sync --once` until it reports done (or gives up), sleeping through backoffs.
    func syncUntilDone(maxRounds: Int = 200) async throws -> Int32 {
        var code: Int32 = 75
        for _ in 0..<maxRounds {
            code = try await syncOnce()
            if code != 75 { return code }
            try await Task.sleep(nanoseconds: 60_000_000)
        }
        return code
    }

    /// What the engine says each matched product of `store` should hold.
    func expected(_ store: StoreID) throws -> [WooID: Int64] {
        let p = try journal.state().projection
        let settings = p.stores[store]!.settings
        return p.matchedProducts(store: store).mapValues { p.synced($0.variant, settings) }
    }

    func held(_ store: StoreID) -> [WooID: Int64?] {
        servers[store]!.products().mapValues(\.stockQuantity)
    }
}

/// Runs `body` with a fresh harness, closed afterwards whatever happens.
func withHarness(_ body: (DispatchHarness) async throws -> Void) async throws {
    let h = try DispatchHarness()
    do {
        try await body(h)
    } catch {
        await h.close()
        throw error
    }
    await h.close()
}

func variantLine(_ v: Int, _ sku: String?, links: [(String, Int)] = []) -> String {
    let l = links.map { #"{"store":"\#($0.0)","woo_id":\#($0.1)}"# }.joined(separator: ",")
    return #"{"id":"v\#(v)-\#(UUID().uuidString)","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":\#(v),"sku":\#(sku.map { "\"\($0)\"" } ?? "null"),"kind":"product","woo_links":[\#(l)]}}"#
}

func reconcileLine(_ v: Int, _ loc: Int, _ q: String) -> String {
    #"{"id":"r\#(v)-\#(loc)-\#(UUID().uuidString)","type":"inventory.reconciled","at":"2026-11-26T10:00:00Z","data":{"variant_id":\#(v),"location_id":\#(loc),"in_stock":"\#(q)"}}"#
}

func adjustmentLine(_ id: Int, _ v: Int, _ q: Int, loc: Int = 1) -> String {
    #"{"id":"a\#(id)-\#(UUID().uuidString)","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":\#(id),"updated_at":"2026-11-26T10:00:00Z","location_id":\#(loc),"rows":[{"variant_id":\#(v),"quantity":\#(q)}]}}"#
}

func salesLine(_ id: Int, _ v: Int, _ q: Int, source: String, loc: Int = 1) -> String {
    #"{"id":"s\#(id)-\#(UUID().uuidString)","type":"sales_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":\#(id),"updated_at":"2026-11-26T10:00:00Z","status":"PENDING","location_id":\#(loc),"source":"\#(source)","rows":[{"row_id":1,"variant_id":\#(v),"quantity":\#(q)}]}}"#
}
