import ArgumentParser
import Foundation
import StockDomain
import StockEngine

/// `on` / `off` switches.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on, off
    var bool: Bool { self == .on }
}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Connect, reconfigure, disconnect and list WooCommerce stores.",
        subcommands: [Connect.self, Reconfigure.self, Disconnect.self, List.self, Refresh.self, Resume.self]
    )

    struct Settings: ParsableArguments {
        @Option(help: "The store's base URL (https://shop.example.com).") var url: String?
        @Option(help: "The Katana location whose stock this store receives.") var location: Int64?
        @Option(name: .customLong("stock-sync"), help: "Push stock to this store: on|off.") var stockSync: Switch?
        @Option(name: .customLong("katana-orders-reduce-stock"), help: "Orders created in Katana reduce what is pushed: on|off.")
        var katanaOrdersReduceStock: Switch?
        @Option(name: .customLong("floor-at-zero"), help: "Push 0 instead of negative values: on|off.") var floorAtZero: Switch?

        func validateURL() throws(EngineError) {
            guard let url else { return }
            // First, so that no message below repeats a password.
            if StoreSettings.urlCarriesCredentials(url) { throw EngineError(.badInput, "--url: \(StoreSettings.credentialsInURLMessage)") }
            guard let c = URLComponents(string: url), let scheme = c.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  let host = c.host, !host.isEmpty else {
                throw EngineError(.badInput, "--url: '\(url)' is not an http(s) URL with a host")
            }
            if let port = c.port, !(1...65535).contains(port) {
                throw EngineError(.badInput, "--url: '\(url)' has port \(port); a port is 1 to 65535")
            }
            // REST paths are appended to the URL: a query or fragment would swallow them.
            guard c.query == nil, c.fragment == nil else {
                throw EngineError(.badInput, "--url: '\(url)' has a query or fragment; give the site's address alone (https://shop.example.com)")
            }
            if c.path.contains("/wp-json") {
                throw EngineError(.badInput, "--url: '\(url)' includes the REST path; give the site's address alone (https://shop.example.com): /wp-json/wc/v3 is added to it")
            }
        }
    }

    static func validateID(_ id: String) throws(EngineError) {
        guard StoreSlug.isValid(id) else { throw EngineError(.badInput, "store id \(StoreSlug.quoted(id)): use \(StoreSlug.rule)") }
    }

    /// How many catalogue products `projection` holds for `store`, in words.
    static func catalogueSize(of store: StoreID, in projection: Projection) -> (count: Int, words: String) {
        let n = projection.catalogue.keys.filter { $0.store == store }.count
        return (n, n == 1 ? "1 product" : "\(n) products")
    }

    static func event(_ payload: EventPayload) -> Event {
        Event(id: UUID().uuidString.lowercased(), at: Instant.now.description, payload: payload)
    }

    static func refuseOptOutWithoutSync(_ settings: StoreSettings, requested: Switch?) throws(EngineError) {
        if requested == .on && !settings.stockSync {
            throw EngineError(.badInput, "--katana-orders-reduce-stock on needs stock sync on (Katana's rule); add --stock-sync on")
        }
    }

    struct Connect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Connect a store. Nothing is pushed until stock changes or a resync.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "A short slug for the store (main, eu-shop).") var id: String
        @OptionGroup var settings: Settings

        func run() throws {
            try reportingErrors {
                try StoreCommand.validateID(id)
                guard let url = settings.url else { throw EngineError(.usage, "store connect: --url is required") }
                guard let location = settings.location else { throw EngineError(.usage, "store connect: --location is required") }
                guard let sync = settings.stockSync else { throw EngineError(.usage, "store connect: --stock-sync on|off is required") }
                try settings.validateURL()
                let new = StoreSettings(store: id, url: url, locationID: location, stockSync: sync.bool,
                                        katanaOrdersReduceStock: settings.katanaOrdersReduceStock?.bool ?? true,
                                        floorAtZero: settings.floorAtZero?.bool ?? false)
                try StoreCommand.refuseOptOutWithoutSync(new, requested: settings.katanaOrdersReduceStock)
                var earlier: (url: String, catalogue: (count: Int, words: String))? = nil
                _ = try database.write { journal throws(EngineError) in try journal.write { appender in
                    if appender.state.stores[id]?.connected == true {
                        throw EngineError(.badInput, "store '\(id)' is already connected (use 'store reconfigure')")
                    }
                    if let old = appender.state.stores[id] {
                        earlier = (old.settings.url, StoreCommand.catalogueSize(of: id, in: appender.state))
                    }
                    try appender.append(StoreCommand.event(.storeConnected(new)))
                } }
                emit("connected store '\(id)' (\(url), location \(location), stock sync \(sync.rawValue)); nothing is pushed until stock changes or 'resync'")
                // A reconnected store keeps its catalogue (SPEC §2.6 rule 10). Read from another
                // site, its product ids would receive updates meant for other products.
                if let earlier, earlier.catalogue.count > 0 {
                    warn(earlier.url == url
                         ? "store '\(id)' was connected before and keeps the catalogue recorded then (\(earlier.catalogue.words)); 'stocksync store refresh \(id)' brings it up to date"
                         : "warning: store '\(id)' was last connected to \(earlier.url) and keeps the catalogue recorded then (\(earlier.catalogue.words)); run 'stocksync store refresh \(id)' before syncing, or updates may go to another site's product ids")
                }
            }
        }
    }

    struct Reconfigure: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a store's settings.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The store.") var id: String
        @OptionGroup var settings: Settings

        func validate() throws {
            // An empty change would still be journaled, forever, as a reconfiguration.
            if settings.url == nil && settings.location == nil && settings.stockSync == nil
                && settings.katanaOrdersReduceStock == nil && settings.floorAtZero == nil {
                throw ValidationError("nothing to change: give at least one of --url, --location, --stock-sync, --katana-orders-reduce-stock, --floor-at-zero")
            }
        }

        func run() throws {
            try reportingErrors {
                try settings.validateURL()
                let change = StoreChange(store: id, url: settings.url, locationID: settings.location,
                                         stockSync: settings.stockSync?.bool,
                                         katanaOrdersReduceStock: settings.katanaOrdersReduceStock?.bool,
                                         floorAtZero: settings.floorAtZero?.bool)
                let journal = try database.open(writable: true)
                var moved: (from: String, catalogue: (count: Int, words: String))? = nil
                _ = try journal.write { appender in
                    let state = try appender.state.connectedStore(id, option: "")
                    try StoreCommand.refuseOptOutWithoutSync(change.applied(to: state.settings), requested: settings.katanaOrdersReduceStock)
                    if let url = change.url, url != state.settings.url {
                        moved = (state.settings.url, StoreCommand.catalogueSize(of: id, in: appender.state))
                    }
                    try appender.append(StoreCommand.event(.storeReconfigured(change)))
                }
                emit("reconfigured store '\(id)'")
                if let moved, moved.catalogue.count > 0, let url = change.url {
                    warn("store '\(id)' keeps its catalogue (\(moved.catalogue.words), read from \(moved.from)); if \(url) is another site rather than a new address of the same one, run 'stocksync store refresh \(id)' before syncing")
                }
            }
        }
    }

    struct Disconnect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disconnect a store; its pending pushes are dropped.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The store.") var id: String

        func run() throws {
            try reportingErrors {
                let journal = try database.open(writable: true)
                _ = try journal.write { appender in
                    _ = try appender.state.connectedStore(id, option: "")
                    try appender.append(StoreCommand.event(.storeDisconnected(id)))
                }
                emit("disconnected store '\(id)'")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The connected stores: settings, pending pushes, last answer, pauses and retry waits.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            try reportingErrors {
                let journal = try database.open(writable: false)
                let view = try journal.state()
                let statuses = try journal.allStoreStatuses()
                if json {
                    emitJSON(Render.storesJSON(view.projection, paused: { statuses[$0]?.pausedReason != nil }))
                } else {
                    var lastAnswers: [StoreID: DeliveryRecord] = [:]
                    for (store, state) in view.projection.stores where state.connected {
                        lastAnswers[store] = try journal.lastDelivery(store: store)
                    }
                    emit(Render.storesText(view.projection, statuses: statuses, lastAnswers: lastAnswers))
                }
            }
        }
    }
}
