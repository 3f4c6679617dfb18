import Foundation
import StockDomain
import StockEngine
import WooCommerce

/// The stores' API keys: `{"stores": {"main": {"consumer_key": "ck_…", "consumer_secret": "cs_…",
/// "auth": "basic", "requests_per_second": 5, "max_in_flight": 2}}}`. Configuration, never journal
/// content; a file that group or others can read is refused.
public struct CredentialsFile: Sendable {
    public let path: String
    public let stores: [StoreID: Credentials]

    public init(path: String, stores: [StoreID: Credentials]) {
        self.path = path
        self.stores = stores
    }

    /// `--credentials`, else `$STOCKSYNC_CREDENTIALS`, else `./stocksync.credentials.json`.
    public static func defaultPath(_ option: String?) -> String {
        if let option { return option }
        if let env = ProcessInfo.processInfo.environment["STOCKSYNC_CREDENTIALS"], !env.isEmpty { return env }
        return "./stocksync.credentials.json"
    }

    public static func load(_ path: String) throws(EngineError) -> CredentialsFile {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw EngineError(.configuration, "\(path): no credentials file (create it with the stores' consumer keys, mode 600)")
        }
        if st.st_mode & 0o077 != 0 {
            throw EngineError(.configuration, "\(path): readable by group or others; run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EngineError(.configuration, "\(path): cannot read")
        }
        let json: JSONValue
        do { json = try JSONReader.parseFile(String(decoding: data, as: UTF8.self)) } catch {
            throw EngineError(.configuration, "\(path): \(error.description)")
        }
        guard case .object(let top) = json, case .object(let stores)? = top.first(where: { $0.key == "stores" })?.value else {
            throw EngineError(.configuration, "\(path): expected {\"stores\": {\"STORE\": {\"consumer_key\": …, \"consumer_secret\": …}}}")
        }
        var result: [StoreID: Credentials] = [:]
        for entry in stores {
            guard case .object(let m) = entry.value else { throw EngineError(.configuration, "\(path): stores.\(entry.key) must be an object") }
            func field(_ k: String) -> JSONValue? { m.first { $0.key == k }?.value }
            guard case .string(let key)? = field("consumer_key"), !key.isEmpty else {
                throw EngineError(.configuration, "\(path): stores.\(entry.key).consumer_key is missing")
            }
            guard case .string(let secret)? = field("consumer_secret"), !secret.isEmpty else {
                throw EngineError(.configuration, "\(path): stores.\(entry.key).consumer_secret is missing")
            }
            var credentials = Credentials(consumerKey: key, consumerSecret: secret)
            if let a = field("auth") {
                guard case .string(let name) = a, let auth = Credentials.Auth(rawValue: name) else {
                    throw EngineError(.configuration, "\(path): stores.\(entry.key).auth must be basic, oauth1 or query")
                }
                credentials.auth = auth
            }
            if case .number(let t)? = field("requests_per_second") {
                guard let v = Double(t), v > 0 else { throw EngineError(.configuration, "\(path): stores.\(entry.key).requests_per_second must be > 0") }
                credentials.requestsPerSecond = v
            }
            if case .number(let t)? = field("max_in_flight") {
                guard let v = Int(t), v >= 1 else { throw EngineError(.configuration, "\(path): stores.\(entry.key).max_in_flight must be ≥ 1") }
                credentials.maxInFlight = v
            }
            result[entry.key] = credentials
        }
        return CredentialsFile(path: path, stores: result)
    }

    public func credentials(for store: StoreID) throws(EngineError) -> Credentials {
        guard let c = stores[store] else { throw EngineError(.configuration, "\(path): no credentials for store '\(store)'") }
        return c
    }
}
