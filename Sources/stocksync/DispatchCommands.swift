import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOPosix
import StockDomain
import StockEngine
import StockSyncService
import WooCommerce

/// `--credentials PATH` for commands that talk to a store.
struct CredentialsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The stores' API keys (default: $STOCKSYNC_CREDENTIALS, else ./stocksync.credentials.json).", valueName: "path"))
    var credentials: String?

    func load() throws(EngineError) -> CredentialsFile { try CredentialsFile.load(CredentialsFile.defaultPath(credentials)) }
}

/// Runs `body` with an HTTP client pool, shut down afterwards.
func withHTTPClient<T>(_ body: (HTTPClient) async throws -> T) async throws -> T {
    let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: WooClient.httpConfiguration())
    do {
        let result = try await body(client)
        try await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}

/// Set from a signal handler; read between dispatch rounds.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return stopped }
    func set() { lock.lock(); stopped = true; lock.unlock() }

    /// Sets the flag on SIGINT or SIGTERM (the sources are kept alive by the returned array).
    func trapSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in self.set() }
            source.resume()
            return source
        }
    }
}

extension StoreCommand {
    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Read a store's catalogue and record the differences (never pushes).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var credentials: CredentialsOptions
        @Argument(help: "The store; every connected store when left out.") var id: String?

        func run() async throws {
            try await reportingErrors {
                let journal = try database.open(writable: true)
                let projection = try journal.state().projection
                // The store first: a mistyped id is named as such, not as missing credentials.
                if let id { _ = try projection.connectedStore(id, option: "") }
                let ids = id.map { [$0] } ?? projection.stores.values.filter(\.connected).map(\.settings.store).sorted()
                guard !ids.isEmpty else {
                    emit("No stores connected.")
                    return
                }
                let file = try credentials.load()
                // With every store, one that fails does not keep the others' catalogues stale:
                // each failure is said, and the first one's exit code ends the command.
                var firstFailure: EngineError? = nil
                try await withHTTPClient { http in
                    for store in ids {
                        do {
                            try await refresh(store, credentials: file.credentials(for: store), journal: journal, http: http)
                        } catch let error as EngineError where ids.count > 1 {
                            warn(error.message)
                            firstFailure = firstFailure ?? error
                        }
                    }
                }
                if let firstFailure { throw ExitCode(firstFailure.exitCode) }
            }
        }

        func refresh(_ id: StoreID, credentials creds: Credentials, journal: Journal, http: HTTPClient) async throws {
            let terminal = isatty(2) != 0
            let report = try await CatalogueRefresh.run(store: id, journal: journal, credentials: creds, http: http, progress: { line in
                if terminal { FileHandle.standardError.write(Data("\r\(line)   ".utf8)) }
            }, retrying: { line in
                // A line of its own, on a terminal or in a cron log alike.
                FileHandle.standardError.write(Data("\(terminal ? "\r\u{1B}[K" : "")stocksync: store '\(id)': \(printable(line))\n".utf8))
            })
            if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }  // the progress line, cleared
            emit("refreshed store '\(id)': \(report.products) products, \(report.variations) variations; \(report.upserted) recorded, \(report.deleted) deleted")
            var matching = "Katana variants: \(report.matchedBySKU) matched by SKU, \(report.matchedByLink) by WooCommerce id"
            if report.unmatched > 0 {
                matching += "; \(report.unmatched) with a SKU or link match nothing here and are not synced ('stocksync explain SKU --store \(id)' says why)"
            }
            emit(matching)
            if report.matchedWithoutHeldValue > 0 {
                // Only those: a plain resync pushes the whole portfolio, which the merchant weighs.
                let all = report.matchedBySKU + report.matchedByLink
                emit("\(report.matchedWithoutHeldValue) matched products have no known stock value in the store (new or returned); 'stocksync resync --store \(id) --unknown' pushes them (without --unknown, every matched product: \(all))")
            }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a store's pause (after fixing its credentials or URL).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The store.") var id: String

        func run() throws {
            try reportingErrors {
                let journal = try database.open(writable: true)
                _ = try journal.state().projection.connectedStore(id, option: "")
                let before = try journal.storeStatus(id)
                try journal.setStoreStatus(StoreStatus(store: id))
                if before.pausedReason != nil {
                    emit("store '\(id)' resumed")
                } else if before.retryAt != nil || before.failures > 0 {
                    emit("store '\(id)' was not paused; its retry backoff is cleared, so the next sync tries it at once")
                } else {
                    emit("store '\(id)' was not paused; nothing to do")
                }
            }
        }
    }
}

/// An exclusive advisory lock on `PATH.sync-lock`: one dispatcher per database, so in-flight
/// marks left in the database always belong to a run that is no longer alive. PATH is the
/// database's real path: a daemon started through a symbolic link and a cron job naming the
/// file itself are two dispatchers of one database.
final class SyncLock {
    let fd: Int32
    init(database: String) throws(EngineError) {
        let path = URL(fileURLWithPath: database).resolvingSymlinksInPath().path + ".sync-lock"
        fd = open(path, O_CREAT | O_RDWR, 0o600)
        guard fd >= 0 else { throw EngineError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw EngineError(.temporary, "another 'stocksync sync' is running on \(database); try again when it ends")
        }
    }
    deinit { close(fd) }
}

struct Sync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Push pending stock updates to the stores (until SIGINT/SIGTERM, or --once).")
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var credentials: CredentialsOptions
    @Option(help: "Only this store.") var store: String?
    @Flag(help: "Exit when nothing is sendable now: 0 done, 75 entries wait for a retry, 77 a store is paused or has no credentials.")
    var once = false
    @Option(help: "Seconds before the first retry (doubles each time, with jitter).") var retryFirst: Double = 1
    @Option(help: "Longest wait between retries, in seconds.") var retryMax: Double = 300
    @Option(help: "Per-request timeout, in seconds.") var timeout: Int64 = 30

    func validate() throws {
        // Zero or negative would fail every request at once, or retry without pause.
        // Upper bounds a day long: larger values are typos, and would overflow the time arithmetic.
        guard (1...86_400).contains(timeout) else { throw ValidationError("--timeout: \(timeout) s; give 1 to 86400") }
        guard retryFirst > 0, retryFirst <= 86_400 else { throw ValidationError("--retry-first: \(retryFirst) s; give more than 0 and at most 86400") }
        guard retryMax >= retryFirst, retryMax <= 86_400 else {
            throw ValidationError("--retry-max: \(retryMax) s; give at least --retry-first (\(retryFirst) s) and at most 86400")
        }
    }

    func run() async throws {
        var exitCode: Int32 = 0
        try await reportingErrors {
            let journal = try database.open(writable: true)
            let lock = try SyncLock(database: database.path)
            defer { withExtendedLifetime(lock) {} }
            // Without a credentials file every store lacks credentials (77 once something is pending).
            let path = CredentialsFile.defaultPath(credentials.credentials)
            // Stamped before reading: a change made while it is read is seen at the first round.
            var loadedAt = Sync.changeStamp(path)
            let file: CredentialsFile? = FileManager.default.fileExists(atPath: path) ? try CredentialsFile.load(path) : nil
            let selected: () throws -> [StoreID] = {
                let p = try journal.state().projection
                if let store { _ = try p.connectedStore(store); return [store] }
                return p.stores.values.filter { $0.connected && $0.settings.stockSync }.map(\.settings.store).sorted()
            }
            exitCode = try await withHTTPClient { http in
                let dispatcher = Dispatcher(journal: journal, credentials: file, http: http,
                                            policy: RetryPolicy(firstDelay: retryFirst, maxDelay: retryMax))
                dispatcher.requestTimeout = timeout
                // A daemon's lines are read later, from a log: each says when it happened.
                let daemon = !once
                dispatcher.log = { warn($0, stamped: daemon) }
                if once {
                    let (code, rounds) = try await dispatcher.runOnce(stores: try selected())
                    Sync.summarize(rounds)
                    return code
                }
                // The credentials file is read again when it changes: fixed keys lift a pause
                // without a restart. A file that no longer loads keeps the keys in use.
                dispatcher.reloadCredentials = {
                    let now = Sync.changeStamp(path)
                    guard now != loadedAt else { return nil }
                    loadedAt = now
                    do {
                        let reloaded = try CredentialsFile.load(path)
                        warn("\(path): credentials reloaded", stamped: true)
                        return reloaded
                    } catch {
                        warn("\(error); keeping the credentials loaded before", stamped: true)
                        return nil
                    }
                }
                let stop = StopFlag()
                let sources = stop.trapSignals()
                defer { sources.forEach { $0.cancel() } }
                try await dispatcher.run(stores: selected, shouldStop: { stop.isSet }) { Sync.summarize([$0], stamped: true) }
                return 0
            }
        }
        if exitCode != 0 { throw ExitCode(exitCode) }
    }

    /// What changes when the file at `path` is rewritten, replaced or has its mode changed (a
    /// `chmod 600` right after writing it must count too); nil when it is absent.
    static func changeStamp(_ path: String) -> [Int]? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return [Int(st.st_ino), Int(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec, st.st_ctim.tv_sec, st.st_ctim.tv_nsec]
    }

    static func summarize(_ rounds: [StoreRound], stamped: Bool = false) {
        var totals: [StoreID: (sent: Int, ack: Int, rejected: Int, gone: Int, state: StoreRound.State)] = [:]
        for r in rounds {
            var t = totals[r.store] ?? (0, 0, 0, 0, .idle)
            t.sent += r.sent; t.ack += r.acknowledged; t.rejected += r.rejected; t.gone += r.gone; t.state = r.state
            totals[r.store] = t
            for warning in r.warnings { warn(warning, stamped: stamped) }
        }
        for (store, t) in totals.sorted(by: { $0.key < $1.key }) {
            let state: String
            switch t.state {
            case .idle, .sent: state = "up to date"
            case .waiting(let at): state = "waiting to retry at \(at)"
            case .paused(let why): state = "PAUSED: \(why)"
            case .noCredentials: state = "NO CREDENTIALS: add the store to the credentials file"
            }
            emit("\(timePrefix(stamped))store '\(store)': sent \(t.sent), acknowledged \(t.ack), rejected \(t.rejected), gone \(t.gone); \(state)")
        }
    }
}

struct Resync: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push matched products' current values to a store, whatever it is known to hold.",
        discussion: """
            Without a filter, every matched product (after a restore from backup, say). With \
            --sku, --woo-id or --unknown, only those products: a few fixed by hand in \
            WooCommerce, or the ones a refresh newly matched.
            """)
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The store.") var store: String
    @Option(name: .customLong("sku"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Only the products this Katana SKU feeds (repeatable).", valueName: "sku"))
    var skus: [String] = []
    @Option(name: .customLong("woo-id"), help: ArgumentHelp("Only this WooCommerce product or variation (repeatable).", valueName: "id"))
    var wooIDs: [Int64] = []
    @Flag(help: "Only matched products whose value in the store is unknown (never acknowledged: new or returned).")
    var unknown = false

    func run() throws {
        try reportingErrors {
            let journal = try database.open(writable: true)
            let narrowed = !skus.isEmpty || !wooIDs.isEmpty || unknown
            var listed: [WooID]? = nil
            let summary = try journal.write { appender in
                let state = try appender.state.connectedStore(store)
                guard state.settings.stockSync else {
                    throw EngineError(.badInput, "store '\(store)' has stock sync off; turn it on first ('store reconfigure \(store) --stock-sync on')")
                }
                if narrowed {
                    let ids = try appender.state.resyncSelection(store: store, skus: skus, wooIDs: wooIDs, unknownValue: unknown)
                    listed = ids
                    // Only --unknown can come out empty: every value is known, nothing to record.
                    guard !ids.isEmpty else { return }
                }
                try appender.append(StoreCommand.event(.storeResyncRequested(ResyncRequest(store: store, wooIDs: listed))))
            }
            guard let position = summary.lastPosition else {
                emit("nothing to resync: store '\(store)' is known to hold a value for every matched product")
                return
            }
            let pending = try journal.state().projection.pending.keys.filter { $0.store == store }.count
            let what = listed.map { "\($0.count) product\($0.count == 1 ? "" : "s") requested" } ?? "every matched product requested"
            emit("resync requested for store '\(store)' at position \(position) (\(what)): \(pending) product\(pending == 1 ? "" : "s") pending; run 'stocksync sync'")
        }
    }
}

struct Deliveries: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The delivery log: every attempt, from journal position to the store's answer.",
        subcommands: [List.self, Prune.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the attempts, oldest first.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Only this store.") var store: String?
        @Option(parsing: .unconditional, help: "Only products carrying this SKU.") var sku: String?
        @Option(parsing: .unconditional, help: "Only the latest N attempts (after --store and --sku).") var last: Int?
        @Flag(help: "JSON output.") var json = false

        func validate() throws {
            if let last, last < 0 { throw ValidationError("--last must be ≥ 0") }
        }

        func run() throws {
            try reportingErrors {
                let journal = try database.open(writable: false)
                // A disconnected store's attempts stay readable; a store never connected is a typo.
                if let store { _ = try journal.state().projection.knownStore(store) }
                var rows = try journal.deliveries(store: store)
                if let sku { rows = rows.filter { $0.sku == sku } }
                if let last { rows = Array(rows.suffix(last)) }
                if json {
                    emitJSON(Render.deliveriesJSON(rows))
                } else {
                    emit(Render.deliveriesText(rows))
                }
            }
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the attempts recorded before a time (the log's retention); the journal keeps every acknowledgement.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: ArgumentHelp("An RFC 3339 time with offset, not in the future, e.g. $(date -u -d '90 days ago' +%FT%TZ).", valueName: "time"))
        var before: String

        func run() throws {
            try reportingErrors {
                guard let cutoff = Instant.parse(before) else {
                    throw EngineError(.usage, "--before: '\(before)' is not an RFC 3339 time with offset")
                }
                guard cutoff <= Instant.now else {
                    throw EngineError(.badInput, "--before: \(before) is in the future; that would delete the whole log (nothing was deleted)")
                }
                let (removed, remaining) = try database.open(writable: true).pruneDeliveries(before: cutoff)
                emit("pruned \(removed) deliveries recorded before \(before), \(remaining) remain")
            }
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The store's synced values as a CSV for WooCommerce's product importer (ID,SKU,Stock).")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "The store.") var store: String

    func run() throws {
        try reportingErrors {
            let projection = try database.open(writable: false).state().projection
            let settings = try projection.connectedStore(store).settings
            var out = "ID,SKU,Stock\n"
            for (id, fed) in projection.matchedProducts(store: store).sorted(by: { $0.key < $1.key }) {
                out += "\(id),\(Export.csv(fed.product.sku ?? "")),\(projection.synced(fed.variant, settings))\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }

    static func csv(_ field: String) -> String {
        // A leading = + - @ would run as a formula in a spreadsheet: WooCommerce's exporter writes
        // a ' before it, and its importer (since 3.5.2) takes that ' off again.
        let field = field.first.map { "=+-@".contains($0) } == true ? "'" + field : field
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
