import ArgumentParser
import AsyncHTTPClient
import Foundation
import StockDomain
import StockEngine
import StockSyncService
import WooCommerce
import WooCommerceSandbox

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Two sandbox stores, a Katana history, one sync: the whole idea on one screen.")
    @Option(help: ArgumentHelp("The demo history (default: Fixtures/demo/history.jsonl of this checkout).", valueName: "file"))
    var history: String?

    func run() async throws {
        try await reportingErrors {
            let file = try history ?? Demo.defaultHistory()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stocksync-demo-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }

            // The history's stores and catalogues become two live sandbox stores; the rest is Katana's.
            var katana: [Event] = []
            var stores: [StoreSettings] = []
            var catalogues: [StoreID: [WooProduct]] = [:]
            let source = try Journal(path: dir.appendingPathComponent("source.db").path, writable: true)
            _ = try source.ingest([file])
            try source.forEachEvent { _, event in
                switch event.payload {
                case .storeConnected(let s): stores.append(s)
                case .wooProductUpserted(let p): catalogues[p.store, default: []].append(p)
                default: katana.append(event)
                }
            }
            var servers: [StoreID: SandboxServer] = [:]
            var credentials: [StoreID: Credentials] = [:]
            for store in stores {
                let seed = JSONValue.array(Demo.seed(catalogues[store.store] ?? []))
                let server = try await SandboxServer.start(seed: seed)
                servers[store.store] = server
                credentials[store.store] = Credentials(consumerKey: server.consumerKey, consumerSecret: server.consumerSecret)
            }
            defer { for s in servers.values { Task { try? await s.shutdown() } } }
            let journal = try Journal(path: dir.appendingPathComponent("demo.db").path, writable: true)
            try journal.append(stores.map { s in
                var live = s
                live.url = servers[s.store]!.url
                return Event(id: "connect-\(s.store)", at: Instant.now.description, payload: .storeConnected(live))
            })
            emit("stocksync demo — \(stores.count) sandbox WooCommerce stores, \(katana.count) Katana events from \(file)\n")
            try await withHTTPClient { http in
                for s in stores {
                    let report = try await CatalogueRefresh.run(store: s.store, journal: journal, credentials: credentials[s.store]!, http: http)
                    emit("store '\(s.store)' at \(servers[s.store]!.url): catalogue refreshed, \(report.products) products, \(report.variations) variations")
                }
                try journal.append(katana)
                let before = try await Demo.stockInStores(servers, credentials, http)
                let file = CredentialsFile(path: "(demo)", stores: credentials)
                let dispatcher = Dispatcher(journal: journal, credentials: file, http: http)
                let (code, rounds) = try await dispatcher.runOnce(stores: stores.map(\.store))
                let after = try await Demo.stockInStores(servers, credentials, http)
                let p = try journal.state().projection
                emit("\nStock in each store, read back over HTTP (before → after one 'stocksync sync --once'):")
                var table = [["STORE", "WOO ID", "SKU", "BEFORE", "AFTER", "KATANA SAYS"]]
                for store in stores.map(\.store) {
                    let fed = p.matchedProducts(store: store)
                    let settings = p.stores[store]!.settings
                    for (id, record) in after[store]!.sorted(by: { $0.key < $1.key }) where record.type != "variable" {
                        let expected = fed[id].map { String(p.synced($0.variant, settings)) } ?? "not synced"
                        table.append([store, String(id), record.sku, before[store]?[id]?.stockQuantity.map(String.init) ?? "-",
                                      record.stockQuantity.map(String.init) ?? "-", expected])
                    }
                }
                emit(Render.columns(table).joined(separator: "\n"))
                let sent = rounds.reduce(0) { $0 + $1.sent }
                emit("\n\(sent) updates sent; sync exit code \(code)\n")
            }
            emit("Why does 'main' get that number for DESK-OAK?")
            emit(try StockEngine.Explain.render(.sku("DESK-OAK"), store: "main", in: try journal.state()))
        }
    }

    static func seed(_ products: [WooProduct]) -> [JSONValue] {
        let parents = products.filter { $0.parentID == nil }
        return parents.sorted { $0.wooID < $1.wooID }.map { p in
            let children = products.filter { $0.parentID == p.wooID }.sorted { $0.wooID < $1.wooID }
            func fields(_ x: WooProduct) -> [JSONMember] {
                [JSONMember("id", .number(String(x.wooID))), JSONMember("sku", .string(x.sku ?? "")),
                 JSONMember("type", .string(x.type ?? "simple")), JSONMember("manage_stock", .bool(x.type != "variable")),
                 JSONMember("stock_quantity", .number("0")),
                 JSONMember("date_created_gmt", x.dateCreated.map { .string($0.text) } ?? .null)]
            }
            var members = fields(p)
            if !children.isEmpty { members.append(JSONMember("variations", .array(children.map { .object(fields($0)) }))) }
            return .object(members)
        }
    }

    static func stockInStores(_ servers: [StoreID: SandboxServer], _ credentials: [StoreID: Credentials],
                              _ http: HTTPClient) async throws -> [StoreID: [Int64: WooProductRecord]] {
        var out: [StoreID: [Int64: WooProductRecord]] = [:]
        for (store, server) in servers {
            let client = WooClient(storeURL: server.url, credentials: credentials[store]!, http: http)
            var records: [Int64: WooProductRecord] = [:]
            for p in try await client.products(page: 1).items {
                records[p.id] = p
                if p.type == "variable" { for v in try await client.variations(of: p.id, page: 1).items { records[v.id] = v } }
            }
            out[store] = records
        }
        return out
    }

    /// The fixture beside this source tree (the demo runs from a checkout), else the working directory's.
    static func defaultHistory() throws(EngineError) -> String {
        let source = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/demo/history.jsonl").path
        for candidate in [source, "Fixtures/demo/history.jsonl"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw EngineError(.io, "Fixtures/demo/history.jsonl not found; pass --history FILE")
    }
}
