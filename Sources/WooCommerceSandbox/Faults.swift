import Foundation

/// Injected failures, set by `--faults` or at run time (`POST /__sandbox/faults`).
///
/// Grammar: comma-separated `name=value` settings.
/// - `status=CODE` answers every request with CODE (WooCommerce's error shape), limited by
///   `count=N` (the next N requests) and/or `seconds=S` (for S seconds from now);
/// - `retry-after=S` adds `Retry-After: S` to those answers;
/// - `error-rate=P` answers a fraction P of requests with 500;
/// - `drop-rate=P` closes a fraction P of connections without answering;
/// - `drop=1` closes every connection without answering (with `count`/`seconds` as for status);
/// - `latency-ms=N` delays every answer by N ms;
/// - `batch-limit=N` lowers the batch limit from 100 (hosts can, with `woocommerce_rest_batch_items_limit`);
/// - `redirect=URL` answers every request with `301 Moved Permanently` to URL followed by the
///   request's path and query, as WordPress does when the site's address differs from the one
///   asked (http for https, a missing www); with `count`/`seconds` as for status;
/// - `total-pages=N` makes listings report `X-WP-TotalPages: N` whatever they hold;
/// - `hide=ID` leaves product ID out of listings (as paging does when items move during a scan);
///   repeat it for several ids;
/// - `item-error=ID:STATUS:CODE` answers product ID's element of a batch with that error and
///   leaves the product unchanged, as WooCommerce does for an item a plugin's validation or a
///   per-item permission check refuses; repeat it for several ids;
/// - `item-missing=ID` saves product ID in a batch but leaves its element out of the answer
///   (a host's response filter, a cut response); repeat it for several ids;
/// - `stock-management=off` turns off the store-wide *Enable stock management* option: every
///   item then reports `manage_stock: false` and `stock_quantity: null`, and products take only
///   `stock_status` from a write (variations are not checked, as in WooCommerce).
/// An empty text clears every fault.
public struct FaultPlan: Sendable, Equatable {
    public var status: Int?
    public var remaining: Int?
    public var until: Date?
    public var retryAfter: Int?
    public var errorRate: Double = 0
    public var dropRate: Double = 0
    public var dropAll = false
    public var latencyMilliseconds = 0
    public var batchLimit = 100
    public var hiddenFromListings: Set<Int64> = []
    /// `X-WP-TotalPages` as listings report it, whatever they hold (a stale cache, a plugin).
    public var totalPages: Int? = nil
    public var redirectTo: String?
    public var itemErrors: [Int64: ItemError] = [:]
    public var itemsMissing: Set<Int64> = []
    public var stockManagementOff = false

    /// An error a batch answers for one item.
    public struct ItemError: Sendable, Equatable {
        public var status: Int
        public var code: String
    }

    public init() {}

    public init(parsing text: String) throws(FaultError) {
        for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw FaultError(item: item, "expected name=value") }
            let (name, value) = (parts[0], parts[1])
            func number() throws(FaultError) -> Double {
                // Bounded, so that every conversion to Int below fits.
                guard let v = Double(value), v >= 0, v <= 1e12 else {
                    throw FaultError(item: item, "'\(value)' is not a number from 0 to 10^12")
                }
                return v
            }
            switch name {
            case "status":
                let code = Int(try number())
                guard (100...599).contains(code) else { throw FaultError(item: item, "not an HTTP status") }
                status = code
            case "count": remaining = Int(try number())
            case "seconds": until = Date().addingTimeInterval(try number())
            case "retry-after": retryAfter = Int(try number())
            case "error-rate": errorRate = min(1, try number())
            case "drop-rate": dropRate = min(1, try number())
            case "drop": dropAll = try number() != 0
            case "latency-ms": latencyMilliseconds = Int(try number())
            case "batch-limit": batchLimit = max(1, Int(try number()))
            case "redirect":
                guard value.hasPrefix("http://") || value.hasPrefix("https://") else { throw FaultError(item: item, "'\(value)' is not an http(s) URL") }
                redirectTo = value
            case "total-pages": totalPages = Int(try number())
            case "hide":
                guard let id = Int64(value) else { throw FaultError(item: item, "'\(value)' is not a product id") }
                hiddenFromListings.insert(id)
            case "item-error":
                let fields = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                guard fields.count == 3, let id = Int64(fields[0]), let status = Int(fields[1]), (100...599).contains(status),
                      !fields[2].isEmpty else { throw FaultError(item: item, "expected ID:STATUS:CODE") }
                itemErrors[id] = ItemError(status: status, code: fields[2])
            case "item-missing":
                guard let id = Int64(value) else { throw FaultError(item: item, "'\(value)' is not a product id") }
                itemsMissing.insert(id)
            case "stock-management":
                guard value == "on" || value == "off" else { throw FaultError(item: item, "expected on or off") }
                stockManagementOff = value == "off"
            default: throw FaultError(item: item, "unknown fault '\(name)'")
            }
        }
    }

    /// What to do with the next request; consumes a count.
    enum Action { case none, status(Int), drop, redirect(String) }

    mutating func next(random: inout SystemRandomNumberGenerator) -> Action {
        let windowOpen = (until.map { Date() < $0 } ?? true) && (remaining.map { $0 > 0 } ?? true)
        if (status != nil || dropAll || redirectTo != nil) && windowOpen {
            if let r = remaining { remaining = r - 1 }
            if dropAll { return .drop }
            if let redirectTo { return .redirect(redirectTo) }
            if let status { return .status(status) }
        }
        if dropRate > 0, Double.random(in: 0..<1, using: &random) < dropRate { return .drop }
        if errorRate > 0, Double.random(in: 0..<1, using: &random) < errorRate { return .status(500) }
        return .none
    }
}

/// A `--faults` text that cannot be read, with the offending item.
public struct FaultError: Error, Sendable, CustomStringConvertible {
    public let item: String
    public let message: String
    init(item: String, _ message: String) { self.item = item; self.message = message }
    public var description: String { "--faults: '\(item)': \(message)" }
}
