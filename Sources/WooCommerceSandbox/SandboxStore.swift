import Crypto
import Foundation
import StockDomain
import WooCommerce

/// An HTTP answer of the sandbox, or an instruction to drop the connection.
struct SandboxResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: String = ""
    var drop = false
    var delayMilliseconds = 0

    static func json(_ status: Int, _ value: JSONValue, headers: [(String, String)] = []) -> SandboxResponse {
        SandboxResponse(status: status, headers: [("Content-Type", "application/json; charset=UTF-8")] + headers, body: value.text)
    }

    /// WooCommerce's error shape: `{"code","message","data":{"status"}}`.
    static func error(_ status: Int, _ code: String, _ message: String) -> SandboxResponse {
        json(status, errorBody(status, code, message))
    }

    static func errorBody(_ status: Int, _ code: String, _ message: String) -> JSONValue {
        .object([JSONMember("code", .string(code)), JSONMember("message", .string(message)),
                 JSONMember("data", .object([JSONMember("status", .number(String(status)))]))])
    }

    /// WordPress's answer to a parameter its schema refuses: `rest_invalid_param`, with the
    /// reason under `params` and the validation's own code under `details`.
    static func invalidParam(_ name: String, _ reason: String, code: String) -> JSONValue {
        .object([JSONMember("code", .string("rest_invalid_param")),
                 JSONMember("message", .string("Invalid parameter(s): \(name)")),
                 JSONMember("data", .object([
                     JSONMember("status", .number("400")),
                     JSONMember("params", .object([JSONMember(name, .string(reason))])),
                     JSONMember("details", .object([JSONMember(name, .object([
                         JSONMember("code", .string(code)), JSONMember("message", .string(reason)),
                         JSONMember("data", .object([JSONMember("param", .string(name))])),
                     ]))])),
                 ])),
        ])
    }

    /// A batch's element for an item that failed: `{"id": <id as sent>, "error": {…}}`.
    static func itemError(_ id: Int64, _ error: JSONValue) -> JSONValue {
        .object([JSONMember("id", .number(String(id))), JSONMember("error", error)])
    }
}

/// One request the sandbox saw (for tests: spacing of retries, batch sizes).
public struct SeenRequest: Sendable {
    public var at: Date
    public var method: String
    public var path: String
    public var items: Int
    public var status: Int
}

/// The latest requests, in a ring of fixed capacity: appending never copies.
struct RequestLog {
    private var ring: [SeenRequest] = []
    /// Where the oldest entry is, once the ring is full.
    private var start = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    mutating func append(_ request: SeenRequest) {
        if ring.count < capacity { ring.append(request); return }
        ring[start] = request
        start = (start + 1) % capacity
    }

    /// Oldest first.
    var entries: [SeenRequest] { Array(ring[start...] + ring[..<start]) }

    mutating func removeAll() { ring.removeAll(); start = 0 }

    /// Empties the log and keeps the latest `capacity` requests from now on.
    mutating func reset(capacity: Int) { self = RequestLog(capacity: capacity) }
}

/// The store's state and WooCommerce's REST semantics, as recorded against WooCommerce 10.0.2
/// (../shared/reference/woocommerce-recordings). Guarded by the server's lock.
final class SandboxStore: @unchecked Sendable {
    var products: [Int64: WooProductRecord] = [:] { didSet { listing = nil } }
    /// The ids `/products` lists (no parent, not in the trash, not hidden), ascending, kept
    /// until the catalogue or the hidden ids change: paging through a large catalogue would
    /// otherwise copy and sort all of it for every page.
    var listing: [Int64]?
    var nextID: Int64 = 10
    let consumerKey: String
    let consumerSecret: String
    let assumeHTTPS: Bool
    var homeURL = ""
    var faults = FaultPlan() { didSet { if oldValue.hiddenFromListings != faults.hiddenFromListings { listing = nil } } }
    /// The requests answered: the latest 100,000, so a sandbox left running for days under a
    /// `sync` daemon does not grow without bound.
    var seen = RequestLog(capacity: 100_000)
    var nonces: [String: Date] = [:]
    var random = SystemRandomNumberGenerator()
    let lock = NSLock()

    init(consumerKey: String, consumerSecret: String, assumeHTTPS: Bool) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.assumeHTTPS = assumeHTTPS
    }

    static let prefix = "/wp-json/wc/v3"

    func handle(method: String, target: String, headers: [(String, String)], body: [UInt8]) -> SandboxResponse {
        lock.lock()
        defer { lock.unlock() }
        let (path, query) = Self.split(target)
        if path.hasPrefix("/__sandbox/") { return control(method: method, path: path, body: body) }
        var response: SandboxResponse
        var items = 0
        switch faults.next(random: &random) {
        case .drop:
            response = SandboxResponse(status: 0, drop: true)
        case .redirect(let site):
            response = SandboxResponse(status: 301, headers: [("Location", site + target)])
        case .status(let code):
            response = .error(code, code == 429 ? "too_many_requests" : "sandbox_fault", "Injected fault \(code).")
            if let r = faults.retryAfter, code == 429 || code == 503 { response.headers.append(("Retry-After", String(r))) }
        case .none where !path.hasPrefix("/wp-json/"):
            // Outside the REST API (a wrong subdirectory, or "Plain" permalinks, which leave
            // /wp-json unrouted): WordPress answers its theme's HTML 404 page, no JSON, no auth.
            response = SandboxResponse(status: 404, headers: [("Content-Type", "text/html; charset=UTF-8")],
                                       body: "<!DOCTYPE html><html><head><title>Page not found</title></head><body><h1>Oops! That page can&rsquo;t be found.</h1></body></html>")
        case .none:
            if let denied = authenticate(method: method, path: path, query: query, headers: headers) {
                response = denied
            } else {
                (response, items) = route(method: method, path: path, query: query, body: body)
            }
        }
        response.delayMilliseconds = faults.latencyMilliseconds
        seen.append(SeenRequest(at: Date(), method: method, path: path, items: items, status: response.drop ? 0 : response.status))
        return response
    }

    static func split(_ target: String) -> (String, [(String, String)]) {
        let parts = target.split(separator: "?", maxSplits: 1).map(String.init)
        let path = parts.first.map { $0.removingPercentEncoding ?? $0 } ?? "/"
        guard parts.count == 2 else { return (path, []) }
        let query = parts[1].split(separator: "&").map { pair -> (String, String) in
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
        return (path, query)
    }

    // MARK: Auth (WooCommerce: Basic or query keys over HTTPS, OAuth 1.0a over plain HTTP)

    func authenticate(method: String, path: String, query: [(String, String)], headers: [(String, String)]) -> SandboxResponse? {
        func q(_ k: String) -> String? { query.first { $0.0 == k }?.1 }
        let cannotView = SandboxResponse.error(401, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")
        if assumeHTTPS {
            var key = q("consumer_key"), secret = q("consumer_secret")
            if key == nil, let header = headers.first(where: { $0.0.lowercased() == "authorization" })?.1, header.hasPrefix("Basic "),
               let decoded = Data(base64Encoded: String(header.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }) {
                let parts = decoded.split(separator: ":", maxSplits: 1).map(String.init)
                key = parts.first; secret = parts.count > 1 ? parts[1] : ""
            }
            guard let key, key == consumerKey else { return cannotView }
            guard secret == consumerSecret else { return .error(401, "woocommerce_rest_authentication_error", "Consumer secret is invalid.") }
            return nil
        }
        guard let key = q("oauth_consumer_key"), let signature = q("oauth_signature"),
              let timestamp = q("oauth_timestamp").flatMap(Int64.init), let nonce = q("oauth_nonce") else { return cannotView }
        guard key == consumerKey else { return .error(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.") }
        let now = Date()
        guard abs(Double(timestamp) - now.timeIntervalSince1970) <= 15 * 60 else {
            return .error(401, "woocommerce_rest_authentication_error", "Invalid timestamp.")
        }
        let signatureMethod = q("oauth_signature_method") ?? ""
        guard signatureMethod == "HMAC-SHA256" || signatureMethod == "HMAC-SHA1" else {
            return .error(401, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")
        }
        let expected = signatureMethod == "HMAC-SHA256"
            ? OAuth1.signature(method: method, url: homeURL + path, parameters: query, consumerSecret: consumerSecret)
            : Self.sha1Signature(method: method, url: homeURL + path, parameters: query, secret: consumerSecret)
        guard expected == signature else {
            return .error(401, "woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match.")
        }
        nonces = nonces.filter { now.timeIntervalSince($0.value) < 15 * 60 }
        guard nonces["\(timestamp):\(nonce)"] == nil else {
            return .error(401, "woocommerce_rest_authentication_error", "Invalid nonce - nonce has already been used.")
        }
        nonces["\(timestamp):\(nonce)"] = now
        return nil
    }

    static func sha1Signature(method: String, url: String, parameters: [(String, String)], secret: String) -> String {
        let base = OAuth1.baseString(method: method, url: url, parameters: parameters)
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(base.utf8), using: SymmetricKey(data: Data("\(secret)&".utf8)))
        return Data(mac).base64EncodedString()
    }
}
