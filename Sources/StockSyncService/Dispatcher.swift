import AsyncHTTPClient
import Foundation
import StockDomain
import StockEngine
import WooCommerce

/// What one store did in one dispatch round.
public struct StoreRound: Sendable {
    public enum State: Sendable, Equatable {
        case idle, sent, waiting(Instant), paused(String), noCredentials
    }
    public var store: StoreID
    public var state: State
    public var sent = 0
    public var acknowledged = 0
    public var rejected = 0
    public var gone = 0
    public var warnings: [String] = []
}

/// Drains the outbox to WooCommerce stores: coalesced latest values (the outbox holds one entry
/// per product), batched per endpoint (≤ 100 items, variations per parent), a bounded number of
/// requests in flight and a request rate per store. Every item's result becomes a journal event
/// and a delivery-log row in one transaction. Used from one task; only HTTP runs concurrently.
public final class Dispatcher {
    let journal: Journal
    var credentials: CredentialsFile?
    /// Asked before each round of `run`: new credentials when the file changed, else nil. So a
    /// merchant who fixes a store's keys (the pause message says to) needs no restart.
    public var reloadCredentials: () -> CredentialsFile? = { nil }
    let http: HTTPClient
    public var policy: RetryPolicy
    public var requestTimeout: Int64 = 30
    public var log: (String) -> Void = { _ in }
    /// How long `run` waits between rounds when nothing is due sooner and nobody writes to
    /// the journal: what it takes to notice a change of operational state (`store resume`).
    public var idleWait: TimeInterval = 1
    /// Checked between waves of requests: a stop request waits only for requests in flight.
    var shouldStop: @Sendable () -> Bool = { false }
    /// Called with the store after each wave's answers are recorded (tests act between waves).
    public var afterWave: (StoreID) -> Void = { _ in }
    /// Called each time `run` starts waiting for its next round (tests write to the journal then).
    public var whileIdle: () -> Void = {}
    /// Each store's request rate, kept from round to round: a round that starts right after
    /// one that sent must not start with a burst.
    var paces: [StoreID: RequestPace] = [:]

    public init(journal: Journal, credentials: CredentialsFile?, http: HTTPClient, policy: RetryPolicy = RetryPolicy()) {
        self.journal = journal
        self.credentials = credentials
        self.http = http
        self.policy = policy
    }

    struct Item: Sendable {
        var key: ProductKey
        var parentID: WooID?
        var sku: String?
        var quantity: Int64
        var position: Int64
    }

    enum ItemOutcome: Sendable {
        case acknowledged(echoed: Int64?)
        case gone(code: String, status: Int)
        case rejected(code: String, status: Int)
        case retry(code: String?, status: Int?)
        case unauthorized(code: String, status: Int)

        /// A definite answer: the item is settled (no longer in flight, nothing to retry).
        var isFinal: Bool {
            switch self {
            case .acknowledged, .gone, .rejected: return true
            case .retry, .unauthorized: return false
            }
        }
    }

    /// A request-level failure that stops this store's round.
    enum StoreFailure: Sendable {
        case retry(String, status: Int?, code: String?, retryAfter: Double?)
        case pause(String, status: Int?, code: String?)
    }

    struct BatchOutcome: Sendable {
        var items: [(Item, ItemOutcome, Int)] = []
        var failure: StoreFailure?
        var unsent: [Item] = []
    }

    static let goneCodes: Set<String> = ["woocommerce_rest_product_invalid_id", "woocommerce_rest_invalid_product_id",
                                         "woocommerce_rest_product_variation_invalid_id"]

    /// One store's part of a round: its batches, how far it got, and what stopped it.
    struct StoreRun {
        var report: StoreRound
        var status: StoreStatus
        let credentials: Credentials
        let client: WooClient
        var batches: [(parent: WooID?, items: [Item])]
        var next = 0
        var failure: StoreFailure?
        var pace: RequestPace
        /// A wave of this store's is out.
        var sending = false
        /// How many times others had written to the journal when these batches were made.
        var generation = 0
        /// Some item got a final answer (acknowledged, rejected, gone) this round: the store
        /// works, so a failure now is the first in a row, not one more in a run of them.
        var progressed = false
        /// Items that failed on the store's side this round: the round goes on without them
        /// (a remade batch leaves them out) and ends in a backoff.
        var retryLater = Set<WooID>()

        var hasMore: Bool { next < batches.count && failure == nil }
        /// Nothing is out and nothing stopped it: its remaining batches can be made again.
        var canRemake: Bool { !sending && failure == nil }
        /// How items failing on the store's side end a round (or stop it, when nothing beside
        /// them settled): a retry with backoff, like a failed request.
        static let itemFailure = StoreFailure.retry("an item failed on the store's side", status: nil, code: nil, retryAfter: nil)
    }

    /// One round over `stores`: everything sendable now is sent once.
    ///
    /// Stores progress independently: each store's next wave leaves as soon as its previous one
    /// is recorded, so a store that is slow, hangs until the timeout or has thousands of updates
    /// to drain never holds back another store's updates. When another process appends to the
    /// journal meanwhile (an ingest, a reconfiguration), each store makes its remaining batches
    /// again before its next wave: new updates go out at once, values that changed are not sent
    /// stale, and a store whose sync was turned off, moved or disconnected receives nothing
    /// more. The journal is only touched from this task, between waves; only HTTP runs
    /// concurrently.
    public func round(stores: [StoreID]) async throws(EngineError) -> [StoreRound] {
        var reports: [StoreID: StoreRound] = [:]
        var runs: [StoreRun] = []
        /// Stores that had nothing to send: looked at again when the journal moves.
        var idle: [StoreID] = []
        for store in stores {
            switch try prepare(store: store) {
            case .finished(let report):
                reports[store] = report
                if report.state == .idle { idle.append(store) }
            case .sending(let run): runs.append(run)
            }
        }
        // Events this round appended itself are counted, so a head beyond it means others wrote.
        var knownHead = try journal.head()
        var generation = 0, idleGeneration = 0
        var failure: EngineError? = nil
        await withTaskGroup(of: (Int, [BatchOutcome]).self) { group in
            /// Marks the run's next wave in flight and sends it, unless the run is done or asked to stop.
            func launch(_ i: Int) throws(EngineError) {
                guard runs[i].hasMore, !runs[i].sending, !shouldStop() else { return }
                let wave = Array(runs[i].batches[runs[i].next..<min(runs[i].batches.count, runs[i].next + runs[i].credentials.maxInFlight)])
                runs[i].next += wave.count
                let starts = wave.map { _ in runs[i].pace.start() }
                try journal.markInFlight(store: runs[i].report.store, wave.flatMap { $0.items.map { ($0.key.wooID, $0.quantity) } })
                runs[i].sending = true
                let client = runs[i].client
                group.addTask {
                    await (i, withTaskGroup(of: (Int, BatchOutcome).self) { requests in
                        for (offset, batch) in wave.enumerated() {
                            let start = starts[offset]
                            requests.addTask {
                                let wait = start.timeIntervalSinceNow
                                if wait > 0 { try? await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
                                return (offset, await Dispatcher.send(batch.items, parent: batch.parent, client: client))
                            }
                        }
                        var collected: [(Int, BatchOutcome)] = []
                        for await result in requests { collected.append(result) }
                        return collected.sorted { $0.0 < $1.0 }.map(\.1)
                    })
                }
            }
            /// Counts a write by someone else since the last look.
            func noteOthersWrites() throws(EngineError) {
                let head = try journal.head()
                if head > knownHead { knownHead = head; generation += 1 }
            }
            /// Makes run `i`'s remaining batches again from the journal as it is now: what is
            /// pending now is exactly what is left, since every wave it sent is recorded.
            func remake(_ i: Int) throws(EngineError) {
                runs[i].generation = generation
                if case .sending(let more) = try prepare(store: runs[i].report.store) {
                    let later = runs[i].retryLater
                    runs[i].batches = later.isEmpty ? more.batches : more.batches.compactMap { batch in
                        let items = batch.items.filter { !later.contains($0.key.wooID) }
                        return items.isEmpty ? nil : (batch.parent, items)
                    }
                } else {
                    runs[i].batches = []  // sync off, moved or disconnected meanwhile: nothing more
                }
                runs[i].next = 0
            }
            /// Stores not sending remake their batches from what others appended since, and idle
            /// stores look again.
            func takeNewUpdates() throws(EngineError) {
                guard !shouldStop() else { return }
                for i in runs.indices where runs[i].canRemake && runs[i].generation != generation {
                    try remake(i)
                    try launch(i)
                }
                guard generation != idleGeneration else { return }
                idleGeneration = generation
                for store in idle {
                    switch try prepare(store: store) {
                    case .finished(let report):
                        // No credentials for its new updates, say: that is what it reports.
                        reports[store] = report
                        if report.state != .idle { idle.removeAll { $0 == store } }
                    case .sending(var run):
                        idle.removeAll { $0 == store }
                        reports[store] = nil
                        run.generation = generation
                        runs.append(run)
                        try launch(runs.count - 1)
                    }
                }
            }
            do throws(EngineError) {
                for i in runs.indices { try launch(i) }
                for await (i, outcomes) in group {
                    runs[i].sending = false
                    for outcome in outcomes { knownHead += try absorb(outcome, into: &runs[i]) }
                    afterWave(runs[i].report.store)
                    try noteOthersWrites()
                    try takeNewUpdates()
                    try launch(i)
                }
            } catch {
                // Requests still in flight finish unrecorded: their marks make the next round
                // send those products again, as after a crash.
                failure = error
            }
        }
        for run in runs { paces[run.report.store] = run.pace }
        if let failure { throw failure }
        for i in runs.indices { reports[runs[i].report.store] = try finish(&runs[i]) }
        return stores.compactMap { reports[$0] }
    }

    enum Preparation {
        case finished(StoreRound)
        case sending(StoreRun)
    }

    /// What `store` has to send now, or why it sends nothing this round.
    func prepare(store: StoreID) throws(EngineError) -> Preparation {
        var report = StoreRound(store: store, state: .idle)
        let projection = try journal.state().projection
        guard let state = projection.stores[store], state.connected, state.settings.stockSync else { return .finished(report) }
        let entries = projection.pending.filter { $0.key.store == store }.sorted { $0.key < $1.key }
        var status = try journal.storeStatus(store)
        guard let creds = credentials?.stores[store] else {
            report.state = entries.isEmpty ? .idle : .noCredentials
            return .finished(report)
        }
        if let reason = status.pausedReason {
            if status.pausedFingerprint == creds.fingerprint {
                report.state = .paused(reason)
                return .finished(report)
            }
            // New credentials lift the pause.
            status = StoreStatus(store: store)
            try journal.setStoreStatus(status)
        }
        if let retryAt = status.retryAt, retryAt > Instant.now {
            report.state = entries.isEmpty ? .idle : .waiting(retryAt)
            return .finished(report)
        }
        // A marker without a pending entry: a push whose answer was never recorded (the process
        // died), and the value has since gone back to what the journal believes the store holds.
        // The store may hold the lost value: push the current one again (absolute, harmless).
        var items: [Item] = entries.map { key, pending in
            let product = projection.catalogue[key]
            return Item(key: key, parentID: product?.parentID, sku: product?.sku, quantity: pending.quantity, position: pending.position)
        }
        let markers = try journal.inFlight(store: store)
        var repairs = 0
        if !markers.isEmpty {
            let fed = projection.matchedProducts(store: store)
            var stale: [WooID] = []
            for wooID in markers.keys.sorted() where projection.pending[ProductKey(store, wooID)] == nil {
                guard let (variant, product) = fed[wooID] else {
                    stale.append(wooID)  // gone or no longer fed by any variant: nothing to repair
                    continue
                }
                items.append(Item(key: ProductKey(store, wooID), parentID: product.parentID, sku: product.sku,
                                  quantity: projection.synced(variant, state.settings), position: projection.position))
                repairs += 1
            }
            if repairs > 0 { log("store '\(store)': re-sending \(repairs) products whose last push was interrupted before its answer was recorded") }
            if !stale.isEmpty { _ = try journal.write { try $0.clearInFlight(store: store, wooIDs: stale) } }
        }
        guard !items.isEmpty else { return .finished(report) }

        // Variations go per parent; products together. At most 100 items a request.
        var groups: [WooID?: [Item]] = [:]
        for item in items { groups[item.parentID, default: []].append(item) }
        var batches: [(parent: WooID?, items: [Item])] = []
        for parent in groups.keys.sorted(by: { ($0 ?? -1) < ($1 ?? -1) }) {
            let items = groups[parent]!
            for start in stride(from: 0, to: items.count, by: 100) { batches.append((parent, Array(items[start..<min(items.count, start + 100)]))) }
        }
        report.state = .sent
        let client = WooClient(storeURL: state.settings.url, credentials: creds, http: http, timeout: .seconds(requestTimeout), storeID: store)
        // Kept from the last round, unless the rate was changed in the credentials file.
        let fresh = RequestPace(requestsPerSecond: creds.requestsPerSecond)
        let pace = paces[store].map { $0.interval == fresh.interval ? $0 : fresh } ?? fresh
        return .sending(StoreRun(report: report, status: status, credentials: creds, client: client, batches: batches, pace: pace))
    }

    /// Records a batch's answers. The first request-level failure stops the store's round, as
    /// do an item refused for its credentials and a batch whose items all failed on the store's
    /// side; items failing beside settled ones (one product a plugin chokes on) do not hold
    /// back the rest of the round. Returns how many events it appended.
    func absorb(_ outcome: BatchOutcome, into run: inout StoreRun) throws(EngineError) -> Int64 {
        let appended = try record(outcome, store: run.report.store, report: &run.report)
        let settledAny = outcome.items.contains { $0.1.isFinal }
        if settledAny { run.progressed = true }
        if run.failure == nil, let f = outcome.failure { run.failure = f }
        if run.failure == nil, let unauthorized = outcome.items.first(where: { if case .unauthorized = $0.1 { return true }; return false }),
           case .unauthorized(let code, let status) = unauthorized.1 {
            run.failure = .pause("an item was refused with HTTP \(status) \(code)", status: status, code: code)
        }
        let retried = outcome.items.compactMap { item, result, _ -> WooID? in
            if case .retry = result { return item.key.wooID }
            return nil
        }
        run.retryLater.formUnion(retried)
        if run.failure == nil, !retried.isEmpty, !settledAny { run.failure = StoreRun.itemFailure }
        return appended
    }

    /// Ends a store's round: backoff after a retryable failure, a pause after a refusal.
    func finish(_ run: inout StoreRun) throws(EngineError) -> StoreRound {
        let store = run.report.store
        switch run.failure ?? (run.retryLater.isEmpty ? nil : StoreRun.itemFailure) {
        case nil:
            if run.status.failures != 0 || run.status.retryAt != nil { try journal.setStoreStatus(StoreStatus(store: store)) }
        case .retry(let why, _, _, let retryAfter)?:
            // Backoff grows with failures in a row. A host that drops one request in three
            // still answers the others: counting on through those answers backed it off like a
            // dead one (minutes between rounds) while its updates piled up.
            if run.progressed { run.status.failures = 0 }
            run.status.failures += 1
            let delay = policy.delay(failures: run.status.failures, retryAfter: retryAfter)
            let retryAt = Instant(microseconds: Instant.now.microseconds + Int64(delay * 1_000_000))
            run.status.retryAt = retryAt
            try journal.setStoreStatus(run.status)
            run.report.state = .waiting(retryAt)
            log("store '\(store)': \(why); retrying in \(String(format: "%.1f", delay)) s")
        case .pause(let why, _, _)?:
            run.status.pausedReason = why
            run.status.pausedFingerprint = run.credentials.fingerprint
            run.status.retryAt = nil
            try journal.setStoreStatus(run.status)
            run.report.state = .paused(why)
            log("store '\(store)' PAUSED: \(why). Fix the credentials or the URL, then 'stocksync store resume \(store)'")
        }
        return run.report
    }

    /// Sends one batch; a 413 splits it in halves.
    static func send(_ items: [Item], parent: WooID?, client: WooClient) async -> BatchOutcome {
        var outcome = BatchOutcome()
        do {
            let results = try await client.updateStock(items.map { ($0.key.wooID, $0.quantity) }, parent: parent)
            var byID: [WooID: BatchItemResult] = [:]
            for r in results {
                switch r {
                case .updated(let id, _, _), .failed(let id, _, _, _): if byID[id] == nil { byID[id] = r }
                }
            }
            for item in items {
                switch byID[item.key.wooID] {
                case .updated(_, let quantity, _)?:
                    // The echo is what the store now reports; null when it does not manage stock.
                    outcome.items.append((item, .acknowledged(echoed: quantity), 200))
                case .failed(_, let code, _, let status)?:
                    let result: ItemOutcome
                    if goneCodes.contains(code) { result = .gone(code: code, status: status) }
                    else if status >= 500 { result = .retry(code: code, status: status) }
                    else if status == 401 || status == 403 { result = .unauthorized(code: code, status: status) }
                    else { result = .rejected(code: code, status: status) }
                    outcome.items.append((item, result, 200))
                case nil:
                    outcome.items.append((item, .retry(code: "missing_from_response", status: nil), 200))
                }
            }
        } catch {
            switch error {
            case .http(413, _, _, _) where items.count > 1:
                let half = items.count / 2
                var first = await send(Array(items[..<half]), parent: parent, client: client)
                if first.failure != nil {
                    first.unsent += items[half...]
                    return first
                }
                let second = await send(Array(items[half...]), parent: parent, client: client)
                first.items += second.items
                first.failure = second.failure
                first.unsent += second.unsent
                return first
            case .http(let status, let code, let message, let retryAfter):
                if status == 404, parent != nil, code == "woocommerce_rest_product_invalid_id" {
                    // The variable parent is gone: every variation in the batch is gone with it.
                    outcome.items = items.map { ($0, .gone(code: code ?? "", status: status), status) }
                } else if error.mayPass {
                    outcome.failure = .retry("HTTP \(status)\(code.map { " \($0)" } ?? "")", status: status, code: code, retryAfter: retryAfter)
                    outcome.unsent = items
                } else {
                    outcome.failure = .pause("HTTP \(status) \(code ?? "")\(message.map { ": \($0)" } ?? "")", status: status, code: code)
                    outcome.unsent = items
                }
            case .transport(let why):
                outcome.failure = .retry(why, status: nil, code: nil, retryAfter: nil)
                outcome.unsent = items
            case .invalidResponse(let status, let why):
                outcome.failure = .retry("HTTP \(status) body unreadable (\(why))", status: status, code: nil, retryAfter: nil)
                outcome.unsent = items
            }
        }
        return outcome
    }

    /// Appends the events for a batch's results and its delivery-log rows in one transaction;
    /// returns how many events it appended.
    func record(_ outcome: BatchOutcome, store: StoreID, report: inout StoreRound) throws(EngineError) -> Int64 {
        let now = Instant.now
        var events: [Event] = []
        var deliveries: [DeliveryRecord] = []
        func event(_ payload: EventPayload) -> Event { Event(id: UUID().uuidString.lowercased(), at: now.description, payload: payload) }
        for (item, result, httpStatus) in outcome.items {
            var delivery = DeliveryRecord(at: now, store: store, wooID: item.key.wooID, parentID: item.parentID, sku: item.sku,
                                          position: item.position, sent: item.quantity, httpStatus: httpStatus, errorCode: nil, echoed: nil)
            report.sent += 1
            switch result {
            case .acknowledged(let echoed):
                delivery.echoed = echoed
                events.append(event(.wooStockAcknowledged(StockAcknowledgement(store: store, wooID: item.key.wooID, sent: item.quantity, echoed: echoed))))
                report.acknowledged += 1
                if echoed != item.quantity {
                    report.warnings.append("store '\(store)' product \(item.key.wooID) (\(item.sku ?? "no SKU")): sent \(item.quantity), the store echoed \(echoed.map(String.init) ?? "null") (stock management off?)")
                }
            case .gone(let code, let status):
                delivery.errorCode = code; delivery.httpStatus = status
                events.append(event(.wooProductDeleted(store: store, wooID: item.key.wooID)))
                report.gone += 1
            case .rejected(let code, let status):
                delivery.errorCode = code; delivery.httpStatus = status
                events.append(event(.wooStockRejected(StockRejection(store: store, wooID: item.key.wooID, sent: item.quantity, code: code, status: Int64(status)))))
                report.rejected += 1
                report.warnings.append("store '\(store)' refused product \(item.key.wooID) (\(item.sku ?? "no SKU")) = \(item.quantity): HTTP \(status) \(code)")
            case .retry(let code, let status):
                delivery.errorCode = code; delivery.httpStatus = status
            case .unauthorized(let code, let status):
                delivery.errorCode = code; delivery.httpStatus = status
            }
            deliveries.append(delivery)
        }
        if let failure = outcome.failure {
            let (status, code): (Int?, String?)
            switch failure {
            case .retry(_, let s, let c, _): (status, code) = (s, c ?? (s == nil ? "no_response" : nil))
            case .pause(_, let s, let c): (status, code) = (s, c)
            }
            for item in outcome.unsent {
                deliveries.append(DeliveryRecord(at: now, store: store, wooID: item.key.wooID, parentID: item.parentID, sku: item.sku,
                                                 position: item.position, sent: item.quantity, httpStatus: status, errorCode: code, echoed: nil))
            }
        }
        // Items with a definite answer are no longer in flight; retried ones stay marked.
        let settled = outcome.items.compactMap { item, result, _ in result.isFinal ? item.key.wooID : nil }
        guard !events.isEmpty || !deliveries.isEmpty else { return 0 }
        let summary = try journal.write { appender in
            for e in events { try appender.append(e) }
            try appender.recordDeliveries(deliveries)
            try appender.clearInFlight(store: store, wooIDs: settled)
        }
        return Int64(summary.appended)
    }

    /// Rounds until nothing is sendable now. Exit code per the issue: 77 if a selected store
    /// is paused or lacks credentials, else 75 if entries wait for a retry, else 0.
    public func runOnce(stores: [StoreID]) async throws(EngineError) -> (code: Int32, rounds: [StoreRound]) {
        var last: [StoreRound] = []
        var all: [StoreRound] = []
        for _ in 0..<1_000 {
            last = try await round(stores: stores)
            all += last
            if !last.contains(where: { $0.state == .sent }) { break }
        }
        if last.contains(where: { if case .paused = $0.state { return true }; return $0.state == .noCredentials }) { return (77, all) }
        if last.contains(where: { if case .waiting = $0.state { return true }; return false }) { return (75, all) }
        return (0, all)
    }

    /// Runs until `shouldStop` answers true, between rounds; in-flight requests finish first.
    public func run(stores: @escaping () throws -> [StoreID], shouldStop: @escaping @Sendable () -> Bool,
                    report: (StoreRound) -> Void) async throws(EngineError) {
        self.shouldStop = shouldStop
        // Report a store when it sent something or its state changed, not every idle second.
        var lastState: [StoreID: StoreRound.State] = [:]
        while !shouldStop() {
            if let reloaded = reloadCredentials() { credentials = reloaded }
            let roundStart = Date()
            let rounds: [StoreRound]
            do {
                rounds = try await round(stores: try { () throws(EngineError) in
                    do { return try stores() } catch let e as EngineError { throw e } catch { throw EngineError(.failure, "\(error)") }
                }())
            } catch where error.kind == .temporary {
                // Another writer (a long ingest) held the database past the busy timeout. A round
                // cut short this way loses nothing: its in-flight marks make the next one re-send.
                log("\(error.message); trying again in a second")
                let deadline = Date().addingTimeInterval(1)
                while Date() < deadline && !shouldStop() { try? await Task.sleep(nanoseconds: 50_000_000) }
                continue
            }
            for r in rounds {
                // A round that sent everything leaves the store up to date, as an idle one finds
                // it: the idle round after it is no news. A new retry time is none either.
                let state: StoreRound.State
                switch r.state {
                case .waiting: state = .waiting(Instant(seconds: 0))
                case .sent: state = .idle
                default: state = r.state
                }
                if r.sent > 0 || lastState[r.store] != state { report(r) }
                lastState[r.store] = state
            }
            if rounds.contains(where: { $0.state == .sent }) { continue }
            var wait = idleWait
            for r in rounds { if case .waiting(let at) = r.state { wait = min(wait, max(0.05, Double(at.microseconds - Instant.now.microseconds) / 1e6)) } }
            await idle(until: Date().addingTimeInterval(wait), lastRound: Date().timeIntervalSince(roundStart))
        }
    }

    /// Waits for the next round: until `deadline`, or sooner when another process appends to
    /// the journal (an `ingest`, a reconfiguration), so a change reaches the store in tens of
    /// milliseconds rather than up to a second later. Each round after such a write reloads
    /// what it changed (the stock cells and outbox of an `ingest`, tens of milliseconds for
    /// 100,000 products; the whole projection, 0.3 s, after a catalogue change), so a wake comes
    /// no sooner than the last round took after it: under a stream of writes the daemon then
    /// spends at most half a core reloading. A look that fails while it waits wakes it too (the
    /// round reports the database's error); without a first look it waits until `deadline`.
    private func idle(until deadline: Date, lastRound: TimeInterval) async {
        let head = try? journal.head()
        whileIdle()
        let earliestWake = Date().addingTimeInterval(lastRound)
        while Date() < deadline && !shouldStop() {
            try? await Task.sleep(nanoseconds: 50_000_000)
            if Date() >= earliestWake, let head, (try? journal.head()) != head { return }
        }
    }
}
