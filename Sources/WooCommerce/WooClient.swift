import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import StockDomain

/// What went wrong talking to a store, with what the dispatcher needs to decide: retry,
/// pause, split, or record per item.
public enum WooError: Error, Sendable, CustomStringConvertible {
    /// No HTTP answer: connection refused or dropped, timeout.
    case transport(String)
    /// An HTTP error answer, with WooCommerce's error code when the body had one.
    case http(status: Int, code: String?, message: String?, retryAfter: Double?)
    /// A 2xx whose body is not what the API returns (a proxy page, truncated JSON).
    case invalidResponse(status: Int, String)

    public var description: String {
        switch self {
        case .transport(let m): return "no answer: \(m)"
        case .http(let status, let code, let message, _): return "HTTP \(status)\(code.map { " \($0)" } ?? "")\(message.map { ": \($0)" } ?? "")"
        case .invalidResponse(let status, let m): return "HTTP \(status) with an unreadable body: \(m)"
        }
    }

    /// Whether the failure may pass, so the same request is worth sending again later: no
    /// answer, a timeout, a rate limit, a server error, or a body cut short. A refusal or a
    /// redirect would answer the same again.
    public var mayPass: Bool {
        switch self {
        case .transport, .invalidResponse: return true
        case .http(let status, _, _, _): return status == 408 || status == 429 || status >= 500
        }
    }
}

/// One item of a batch answer: the product as saved, or WooCommerce's error for it.
public enum BatchItemResult: Sendable, Equatable {
    case updated(id: Int64, stockQuantity: Int64?, manageStock: Bool?)
    case failed(id: Int64, code: String, message: String, status: Int)
}

/// A page of a listing and the total page count WooCommerce advertised.
public struct Page<T: Sendable>: Sendable {
    public var items: [T]
    public var totalPages: Int
}

/// A client of one store's REST API v3 (`{url}/wp-json/wc/v3`).
public final class WooClient: Sendable {
    public let baseURL: String
    let credentials: Credentials
    let http: HTTPClient
    let timeout: TimeAmount
    let https: Bool
    /// The store's id in this engine, for advice in messages ("ID" when unknown).
    let storeID: String

    /// The HTTP client settings the engine talks to stores with. Redirects are not followed: a
    /// store URL that redirects (http → https, a missing www) would carry the credentials and a
    /// batch's body to another address, and turn the POST into a GET; it is answered as a
    /// configuration problem naming the address to use instead.
    ///
    /// A connection that cannot be made fails the request at once. AsyncHTTPClient would
    /// otherwise keep trying until the connect timeout, so every attempt at a store that is
    /// down took 10 s, hidden inside what the operator was told was a 1 s retry; the
    /// dispatcher's and refresh's own backoff (jittered, logged, `Retry-After`) decides instead.
    public static func httpConfiguration(connectTimeout: TimeAmount = .seconds(10), readTimeout: TimeAmount = .seconds(60)) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow, timeout: .init(connect: connectTimeout, read: readTimeout))
        configuration.connectionPool.retryConnectionEstablishment = false
        return configuration
    }

    /// `http` is shared and owned by the caller (one pool per process).
    public init(storeURL: String, credentials: Credentials, http: HTTPClient, timeout: TimeAmount = .seconds(30), storeID: String = "ID") {
        self.storeID = storeID
        var url = storeURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url + "/wp-json/wc/v3"
        self.credentials = credentials
        self.http = http
        self.timeout = timeout
        self.https = storeURL.lowercased().hasPrefix("https://")
    }

    /// A raw answer.
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var body: [UInt8]
    }

    /// Sends one request with the store's authentication; an HTTP error status is thrown as
    /// `WooError.http`, a missing answer as `.transport`.
    public func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json body: JSONValue? = nil) async throws(WooError) -> Response {
        let url = baseURL + path
        var parameters = query
        var request = HTTPClientRequest(url: url)
        request.method = method
        switch credentials.auth(forHTTPS: https) {
        case .basic:
            let token = Data("\(credentials.consumerKey):\(credentials.consumerSecret)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        case .query:
            parameters.append(("consumer_key", credentials.consumerKey))
            parameters.append(("consumer_secret", credentials.consumerSecret))
        case .oauth1:
            parameters += OAuth1.sign(method: method.rawValue, url: url, query: query, consumerKey: credentials.consumerKey,
                                      consumerSecret: credentials.consumerSecret, timestamp: Int64(Date().timeIntervalSince1970),
                                      nonce: UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())
        }
        if !parameters.isEmpty {
            request.url = url + "?" + parameters.map { "\(OAuth1.encode($0.0))=\(OAuth1.encode($0.1))" }.joined(separator: "&")
        }
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "stocksync/1")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body.text))
        }
        let response: HTTPClientResponse
        let bytes: [UInt8]
        do {
            response = try await http.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: 64 << 20)
            bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            throw .transport(Self.describe(error))
        }
        let status = Int(response.status.code)
        if (300..<400).contains(status) {
            throw .http(status: status, code: nil, message: Self.redirectAdvice(location: response.headers.first(name: "Location"), path: path, storeID: storeID), retryAfter: nil)
        }
        guard (200..<300).contains(status) else {
            var code: String? = nil, message: String? = nil
            if case .object(let m)? = try? JSONReader.parse(String(decoding: bytes, as: UTF8.self)) {
                if case .string(let c)? = m.first(where: { $0.key == "code" })?.value { code = c }
                if case .string(let s)? = m.first(where: { $0.key == "message" })?.value { message = s }
            }
            if status == 404 && code == nil {
                // Not the REST API answering: a wrong URL, or permalinks set to "Plain".
                message = "not a WooCommerce API answer; check the store's URL, and that WordPress permalinks are not set to \"Plain\" (the REST API needs pretty permalinks)"
            } else if code == "rest_no_route" {
                message = (message ?? "no route") + " (is WooCommerce installed and active at this URL?)"
            }
            throw .http(status: status, code: code, message: message, retryAfter: Self.retryAfter(response.headers.first(name: "Retry-After")))
        }
        return Response(status: status, headers: response.headers, body: bytes)
    }

    /// `Retry-After` as seconds to wait: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A
    /// value that is neither, or not a finite non-negative delay ("inf", "-5"), asks nothing.
    public static func retryAfter(_ value: String?, now: Date = Date()) -> Double? {
        guard let text = value?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text) { return seconds.isFinite && seconds >= 0 ? seconds : nil }
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.timeZone = TimeZone(identifier: "GMT")
        format.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return format.date(from: text).map { max(0, $0.timeIntervalSince(now)) }
    }

    /// What to tell the merchant about a redirect: the site address it points to, worked out
    /// by taking the REST path off the end. The query is never shown: with query-string
    /// authentication it would repeat the consumer secret.
    static func redirectAdvice(location: String?, path: String, storeID: String) -> String {
        guard var target = location, !target.isEmpty else { return "the store redirects elsewhere (no Location given); check the store's URL" }
        if let cut = target.firstIndex(where: { $0 == "?" || $0 == "#" }) { target = String(target[..<cut]) }
        if StoreSettings.urlCarriesCredentials(target) { return "the store redirects to an address with credentials in it; check the store's URL" }
        let rest = "/wp-json/wc/v3" + path
        if target.hasSuffix(rest), target.count > rest.count {
            let site = String(target.dropLast(rest.count))
            return "the store's address redirects to \(site); set the store's URL to that (stocksync store reconfigure \(storeID) --url \(site))"
        }
        return "the store redirects to \(target); check the store's URL"
    }

    /// What a failed exchange tells an operator. NIO's own text for a refused connection reads
    /// "connection reset (error set): Connection refused) (errno: 111)", which says "reset".
    static func describe(_ error: any Error) -> String {
        if let e = error as? IOError {
            switch e.errnoCode {
            case ECONNREFUSED: return "connection refused (nothing answers at the store's address: is the site up, and its URL right?)"
            case ECONNRESET, EPIPE: return "the connection was reset before the store answered"
            case ETIMEDOUT: return "the connection timed out"
            case EHOSTUNREACH, ENETUNREACH: return "the store's host cannot be reached from here"
            default: return "\(e)"
            }
        }
        if let e = error as? HTTPClientError {
            if e == .connectTimeout { return "no connection within the connect timeout" }
            if e == .readTimeout || e == .deadlineExceeded { return "no answer within the request timeout" }
            if e == .remoteConnectionClosed { return "the store closed the connection before answering" }
            return "\(e)"
        }
        return String(describing: error)
    }

    func json(_ response: Response) throws(WooError) -> JSONValue {
        do { return try JSONReader.parse(String(decoding: response.body, as: UTF8.self)) } catch {
            throw .invalidResponse(status: response.status, error.description)
        }
    }

    func list(_ path: String, page: Int) async throws(WooError) -> Page<WooProductRecord> {
        let response = try await send(.GET, path, query: [("per_page", "100"), ("page", String(page)), ("orderby", "id"), ("order", "asc")])
        guard case .array(let items) = try json(response) else { throw .invalidResponse(status: response.status, "expected a JSON array") }
        // X-WP-TotalPages drives paging; Link is not followed (a proxy can advertise the wrong scheme).
        let total = response.headers.first(name: "X-WP-TotalPages").flatMap { Int($0) } ?? 1
        return Page(items: items.compactMap(WooProductRecord.init(json:)), totalPages: total)
    }

    /// One page of `/products` (100 per page, by id ascending).
    public func products(page: Int) async throws(WooError) -> Page<WooProductRecord> {
        try await list("/products", page: page)
    }

    /// One page of a variable product's variations.
    public func variations(of parent: Int64, page: Int) async throws(WooError) -> Page<WooProductRecord> {
        try await list("/products/\(parent)/variations", page: page)
    }

    /// A single product or variation; nil when the store answers that it does not exist.
    public func product(id: Int64, parent: Int64?) async throws(WooError) -> WooProductRecord? {
        let path = parent.map { "/products/\($0)/variations/\(id)" } ?? "/products/\(id)"
        do {
            let response = try await send(.GET, path)
            return WooProductRecord(json: try json(response))
        } catch {
            if case .http(let status, let code, _, _) = error, status == 404 || status == 400, code?.hasSuffix("invalid_id") == true {
                return nil
            }
            throw error
        }
    }

    /// `POST /products/batch` (parent nil) or `/products/{parent}/variations/batch`: absolute
    /// stock values with `manage_stock: true`; at most 100 items. Each item's result is read.
    public func updateStock(_ items: [(id: Int64, quantity: Int64)], parent: Int64?) async throws(WooError) -> [BatchItemResult] {
        let path = parent.map { "/products/\($0)/variations/batch" } ?? "/products/batch"
        let update = JSONValue.array(items.map { item in
            .object([JSONMember("id", .number(String(item.id))), JSONMember("manage_stock", .bool(true)),
                     JSONMember("stock_quantity", .number(String(item.quantity)))])
        })
        let response = try await send(.POST, path, json: .object([JSONMember("update", update)]))
        guard case .object(let members) = try json(response),
              case .array(let results)? = members.first(where: { $0.key == "update" })?.value else {
            throw .invalidResponse(status: response.status, "no 'update' array in the batch answer")
        }
        return results.compactMap { element -> BatchItemResult? in
            guard case .object(let m) = element, let id = m.first(where: { $0.key == "id" }).flatMap({ WooProductRecord.integer($0.value) }) else { return nil }
            if case .object(let e)? = m.first(where: { $0.key == "error" })?.value {
                func text(_ k: String) -> String { if case .string(let s)? = e.first(where: { $0.key == k })?.value { return s }; return "" }
                var status = 400
                if case .object(let d)? = e.first(where: { $0.key == "data" })?.value,
                   let s = d.first(where: { $0.key == "status" }).flatMap({ WooProductRecord.integer($0.value) }) { status = Int(s) }
                return .failed(id: id, code: text("code"), message: text("message"), status: status)
            }
            let record = WooProductRecord(json: element)
            return .updated(id: id, stockQuantity: record?.stockQuantity, manageStock: record?.manageStock)
        }
    }
}
