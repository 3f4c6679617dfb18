import AsyncHTTPClient
import Foundation
import StockDomain
import StockEngine
import WooCommerce

/// What `store refresh` found and recorded.
public struct RefreshReport: Sendable {
    public var products = 0
    public var variations = 0
    public var upserted = 0
    public var deleted = 0
    /// Matched products whose held value is unknown (new or returned): a resync pushes them.
    public var matchedWithoutHeldValue = 0
    /// Declared variants matched by SKU, by a WooCommerce id link, and those with a SKU or a
    /// link that match nothing in this store.
    public var matchedBySKU = 0
    public var matchedByLink = 0
    public var unmatched = 0
}

/// Reads a store's whole catalogue and appends the differences as `woo.product.*` events, so
/// matching is replayable. All or nothing: a failed listing appends nothing.
public enum CatalogueRefresh {
    public static func run(store: StoreID, journal: Journal, credentials: Credentials, http: HTTPClient,
                           progress: (String) -> Void = { _ in }) async throws(EngineError) -> RefreshReport {
        let projection = try journal.state().projection
        let settings = try projection.connectedStore(store, option: "").settings
        let client = WooClient(storeURL: settings.url, credentials: credentials, http: http, storeID: store)
        var report = RefreshReport()
        var listed: [WooID: WooProductRecord] = [:]
        do {
            var page = 1, pages = 1
            repeat {
                let result = try await client.products(page: page)
                pages = result.totalPages
                for p in result.items { listed[p.id] = p }
                progress("products page \(page)/\(max(pages, 1))")
                page += 1
                // Pages are offsets: after an empty one every later one is empty too, whatever
                // X-WP-TotalPages said when the scan began (or says wrongly).
                if result.items.isEmpty { break }
            } while page <= pages
            report.products = listed.count
            for parent in listed.values.filter({ $0.type == "variable" }).map(\.id).sorted() {
                var vpage = 1, vpages = 1
                repeat {
                    let result = try await client.variations(of: parent, page: vpage)
                    vpages = result.totalPages
                    for v in result.items {
                        var variation = v
                        if variation.parentID == 0 { variation.parentID = parent }
                        listed[v.id] = variation
                        report.variations += 1
                    }
                    vpage += 1
                    if result.items.isEmpty { break }
                } while vpage <= vpages
            }
        } catch {
            throw refreshError(error, store: store)
        }

        var events: [EventPayload] = []
        for (id, record) in listed.sorted(by: { $0.key < $1.key }) {
            let entry = record.catalogueEntry(store: store)
            if projection.catalogue[ProductKey(store, id)] != entry { events.append(.wooProductUpserted(entry)) }
        }
        // Paging can skip items that move during the scan: confirm with a GET before deleting.
        for (key, known) in projection.catalogue.filter({ $0.key.store == store && listed[$0.key.wooID] == nil }).sorted(by: { $0.key < $1.key }) {
            let found: WooProductRecord?
            do { found = try await client.product(id: key.wooID, parent: known.parentID) } catch { throw refreshError(error, store: store) }
            if let found, found.status != "trash" {
                let entry = found.catalogueEntry(store: store)
                if entry != known { events.append(.wooProductUpserted(entry)) }
            } else {
                events.append(.wooProductDeleted(store: store, wooID: key.wooID))
            }
        }
        report.upserted = events.filter { if case .wooProductUpserted = $0 { return true }; return false }.count
        report.deleted = events.count - report.upserted
        let now = Instant.now.description
        var after: Projection? = nil
        _ = try journal.write { appender in
            for payload in events { try appender.append(Event(id: UUID().uuidString.lowercased(), at: now, payload: payload)) }
            after = appender.state
        }
        if let after {
            report.matchedWithoutHeldValue = after.matchedProducts(store: store).keys.filter { after.held[ProductKey(store, $0)] == nil }.count
            (report.matchedBySKU, report.matchedByLink, report.unmatched) = after.matchSummary(store: store)
        }
        return report
    }

    static func refreshError(_ error: WooError, store: StoreID) -> EngineError {
        switch error {
        case .http(let status, _, _, _) where status == 401 || status == 403:
            return EngineError(.configuration, "store '\(store)': the store refused the credentials (\(error)); nothing was recorded")
        case .http(let status, _, _, _) where (300..<500).contains(status) && status != 408 && status != 429:
            // A redirect or a request-level 4xx is the store's setup, not a passing failure: the
            // dispatcher pauses such a store too. Retrying would answer the same.
            return EngineError(.configuration, "store '\(store)': \(error); nothing was recorded")
        default:
            return EngineError(.temporary, "store '\(store)': listing the catalogue failed (\(error)); nothing was recorded, try again")
        }
    }
}
