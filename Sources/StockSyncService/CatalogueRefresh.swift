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
    /// How a request that failed for a passing reason is sent again: a large catalogue takes
    /// thousands of requests, and one 503 from a busy host should not throw all of them away.
    public struct Patience: Sendable {
        public var policy: RetryPolicy
        /// Sends per request, the first included.
        public var attempts: Int
        /// A store asking (`Retry-After`) to wait longer than this is not waited for: the refresh
        /// fails as temporary, to be run again later, rather than hang for hours.
        public var longestWait: Double
        public init(policy: RetryPolicy = RetryPolicy(firstDelay: 1, maxDelay: 30), attempts: Int = 5, longestWait: Double = 300) {
            self.policy = policy; self.attempts = attempts; self.longestWait = longestWait
        }
    }

    /// `progress`: where the scan is (for a terminal); `retrying`: each request sent again, and
    /// why (for the operator's log).
    public static func run(store: StoreID, journal: Journal, credentials: Credentials, http: HTTPClient,
                           patience: Patience = Patience(), progress: (String) -> Void = { _ in },
                           retrying: @escaping @Sendable (String) -> Void = { _ in }) async throws(EngineError) -> RefreshReport {
        let projection = try journal.state().projection
        let settings = try projection.connectedStore(store, option: "").settings
        let client = WooClient(storeURL: settings.url, credentials: credentials, http: http, storeID: store)
        var report = RefreshReport()
        var listed: [WooID: WooProductRecord] = [:]
        // The store's request rate holds for reading as for sending: a host that throttles
        // bursts (the reason to set it) throttles a long listing too.
        let pacer = Pacer(RequestPace(requestsPerSecond: credentials.requestsPerSecond))
        let fetcher = Fetcher(client: client, pacer: pacer, patience: patience, retrying: retrying)
        do {
            let products = try await fetcher.all({ "products page \($0)" }, { (page) async throws(WooError) in try await client.products(page: page) },
                                                 onPage: { progress("products page \($0)/\(max($1, 1))") })
            for p in products { listed[p.id] = p }
            report.products = listed.count
            // One listing per variable product: up to `max_in_flight` of them at once, at the
            // store's pace, since a shop of thousands of them would wait on each answer in turn.
            let parents = listed.values.filter { $0.type == "variable" }.map(\.id).sorted()
            try await withThrowingTaskGroup(of: (WooID, [WooProductRecord]?).self) { group in
                var next = 0, done = 0
                func launch() {
                    guard next < parents.count else { return }
                    let parent = parents[next]
                    next += 1
                    group.addTask { (parent, try await fetcher.variations(of: parent)) }
                }
                for _ in 0..<max(1, credentials.maxInFlight) { launch() }
                while let (parent, found) = try await group.next() {
                    if let variations = found {
                        for v in variations { listed[v.id] = v }
                        report.variations += variations.count
                    } else {
                        // Deleted since its page was read: gone like any product missing from the
                        // listing (confirmed with a GET below), not a reason to lose the whole read.
                        listed[parent] = nil
                    }
                    done += 1
                    progress("variations of \(done)/\(parents.count) variable products")
                    launch()
                }
            }
        } catch let error as WooError {
            throw refreshError(error, store: store, patience: patience)
        } catch {
            throw EngineError(.temporary, "store '\(store)': listing the catalogue stopped (\(error)); nothing was recorded, try again")
        }

        var events: [EventPayload] = []
        for (id, record) in listed.sorted(by: { $0.key < $1.key }) {
            let entry = record.catalogueEntry(store: store)
            if projection.catalogue[ProductKey(store, id)] != entry { events.append(.wooProductUpserted(entry)) }
        }
        // Paging can skip items that move during the scan: confirm with a GET before deleting.
        for (key, known) in projection.catalogue.filter({ $0.key.store == store && listed[$0.key.wooID] == nil }).sorted(by: { $0.key < $1.key }) {
            let found: WooProductRecord?
            do {
                found = try await fetcher.fetch("product \(key.wooID)") { () async throws(WooError) in try await client.product(id: key.wooID, parent: known.parentID) }
            } catch {
                throw refreshError(error, store: store, patience: patience)
            }
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
        // A whole catalogue was read to get here: another writer (a long ingest) is waited for
        // up to a minute rather than the usual seconds.
        _ = try journal.write(waitingForWriters: 60_000) { appender in
            for payload in events { try appender.append(Event(id: UUID().uuidString.lowercased(), at: now, payload: payload)) }
            after = appender.state
        }
        if let after {
            report.matchedWithoutHeldValue = after.matchedWithUnknownValue(store: store).count
            (report.matchedBySKU, report.matchedByLink, report.unmatched) = after.matchSummary(store: store)
        }
        return report
    }

    /// The store's request rate, shared by listings that run at once.
    actor Pacer {
        private var pace: RequestPace
        init(_ pace: RequestPace) { self.pace = pace }
        func start() -> Date { pace.start() }
    }

    /// Sends the refresh's requests: each at the store's pace, again after a passing failure.
    struct Fetcher: Sendable {
        let client: WooClient
        let pacer: Pacer
        let patience: Patience
        let retrying: @Sendable (String) -> Void

        func fetch<T: Sendable>(_ what: String, _ request: () async throws(WooError) -> T) async throws(WooError) -> T {
            try await CatalogueRefresh.patiently(what, patience, retrying) { () async throws(WooError) in
                let wait = await pacer.start().timeIntervalSinceNow
                if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                return try await request()
            }
        }

        /// Every item of a listing, page by page (`label` names a page in retry lines).
        func all(_ label: (Int) -> String, _ list: (Int) async throws(WooError) -> Page<WooProductRecord>,
                 onPage: (_ page: Int, _ pages: Int) -> Void = { _, _ in }) async throws(WooError) -> [WooProductRecord] {
            var out: [WooProductRecord] = []
            var page = 1, pages = 1
            repeat {
                let result = try await fetch(label(page)) { () async throws(WooError) in try await list(page) }
                pages = result.totalPages
                out += result.items
                onPage(page, pages)
                page += 1
                // Pages are offsets: after an empty one every later one is empty too, whatever
                // X-WP-TotalPages said when the scan began (or says wrongly).
                if result.items.isEmpty { break }
            } while page <= pages
            return out
        }

        /// Every variation of `parent`; nil when the store says `parent` is no product (any more).
        func variations(of parent: WooID) async throws(WooError) -> [WooProductRecord]? {
            do {
                return try await all({ "variations of product \(parent), page \($0)" }, { (page) async throws(WooError) in
                    try await client.variations(of: parent, page: page)
                }).map { v in
                    var variation = v
                    if variation.parentID == 0 { variation.parentID = parent }
                    return variation
                }
            } catch {
                if case .http(404, "woocommerce_rest_product_invalid_id"?, _, _) = error { return nil }
                throw error
            }
        }
    }

    /// Sends `request`, again after a passing failure, up to `patience.attempts` sends in all.
    static func patiently<T: Sendable>(_ what: String, _ patience: Patience, _ retrying: (String) -> Void,
                                       _ request: () async throws(WooError) -> T) async throws(WooError) -> T {
        var failures = 0
        while true {
            do {
                return try await request()
            } catch {
                failures += 1
                // A refresh that already failed elsewhere cancels the listings still running.
                guard error.mayPass, failures < patience.attempts, !Task.isCancelled else { throw error }
                var retryAfter: Double? = nil
                if case .http(_, _, _, let asked) = error { retryAfter = asked }
                if let retryAfter, retryAfter > patience.longestWait { throw error }
                let delay = patience.policy.delay(failures: failures, retryAfter: retryAfter)
                retrying("\(what): \(error); sending it again in \(delay < 10 ? String(format: "%.1f", delay) : String(Int(delay.rounded()))) s (retry \(failures) of \(patience.attempts - 1))")
                try? await Task.sleep(nanoseconds: UInt64(delay * 1e9))
            }
        }
    }

    static func refreshError(_ error: WooError, store: StoreID, patience: Patience) -> EngineError {
        switch error {
        case .http(let status, _, _, _) where status == 401 || status == 403:
            return EngineError(.configuration, "store '\(store)': the store refused the credentials (\(error)); nothing was recorded")
        case .http where !error.mayPass:
            // A redirect or a request-level 4xx is the store's setup, not a passing failure: the
            // dispatcher pauses such a store too. Retrying would answer the same.
            return EngineError(.configuration, "store '\(store)': \(error); nothing was recorded")
        default:
            // A passing failure that lasted: every send failed, or the store asked for a long wait.
            var how = " \(patience.attempts) times in a row"
            if case .http(_, _, _, let wait?) = error, wait > patience.longestWait {
                how = "; the store asks (Retry-After) to wait \(Int(min(wait, RetryPolicy.longestRetryAfter).rounded(.up))) s before the next request"
            }
            return EngineError(.temporary, "store '\(store)': listing the catalogue failed (\(error))\(how); nothing was recorded, try again later")
        }
    }
}
