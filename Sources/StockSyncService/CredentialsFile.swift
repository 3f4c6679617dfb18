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

    /// The fields a store's entry may have.
    static let fields = ["consumer_key", "consumer_secret", "auth", "requests_per_second", "max_in_flight"]

    public static func load(_ path: String) throws(EngineError) -> CredentialsFile {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw EngineError(.configuration, "\(path): no credentials file (create it with the stores' consumer keys, mode 600)")
        }
        // Before the mode: "chmod 600" is no advice to give about a directory such as /tmp.
        if st.st_mode & S_IFMT != S_IFREG {
            throw EngineError(.configuration, "\(path): not a file; give the credentials file's path (--credentials or STOCKSYNC_CREDENTIALS)")
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
            func problem(_ k: String, _ text: String) -> EngineError { EngineError(.configuration, "\(path): stores.\(entry.key).\(k) \(text)") }
            // A misspelt or ill-typed option would otherwise leave its default in force unseen
            // (a host's rate limit, say): this file is ours, so anything unknown is refused.
            if let unknown = m.first(where: { !CredentialsFile.fields.contains($0.key) }) {
                let known = "known: \(CredentialsFile.fields.joined(separator: ", "))"
                // A key pasted where a field name goes must not reach the terminal or a log:
                // only names of letters and underscores (as every field's is) are repeated.
                guard unknown.key.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || ($0 >= 97 && $0 <= 122) }) else {
                    throw EngineError(.configuration, "\(path): stores.\(entry.key) has a field that is not a credentials field (its name is not shown: it may be a key; \(known))")
                }
                throw problem(unknown.key, "is not a credentials field (\(known))")
            }
            func field(_ k: String) -> JSONValue? { m.first { $0.key == k }?.value }
            func string(_ k: String) throws(EngineError) -> String {
                guard let value = field(k) else { throw problem(k, "is missing") }
                guard case .string(let text) = value, !text.isEmpty else { throw problem(k, "must be a non-empty string") }
                return text
            }
            let key = try string("consumer_key"), secret = try string("consumer_secret")
            // Paste mistakes, caught here rather than as a 401 that pauses the store later.
            for (name, value) in [("consumer_key", key), ("consumer_secret", secret)]
            where value.unicodeScalars.first.map(CharacterSet.whitespacesAndNewlines.contains) == true
                || value.unicodeScalars.last.map(CharacterSet.whitespacesAndNewlines.contains) == true {
                throw problem(name, "starts or ends with a space or a line break (pasted with it?); remove it")
            }
            if key.hasPrefix("cs_") && secret.hasPrefix("ck_") {
                throw problem("consumer_key", "holds the secret (cs_…) and consumer_secret the key (ck_…); swap them")
            }
            var credentials = Credentials(consumerKey: key, consumerSecret: secret)
            if let a = field("auth") {
                guard case .string(let name) = a, let auth = Credentials.Auth(rawValue: name) else {
                    throw problem("auth", "must be basic, oauth1 or query")
                }
                credentials.auth = auth
            }
            if let value = field("requests_per_second") {
                guard case .number(let t) = value, let v = Double(t), v > 0, v.isFinite else { throw problem("requests_per_second", "must be a number > 0") }
                credentials.requestsPerSecond = v
            }
            if let value = field("max_in_flight") {
                guard case .number(let t) = value, let v = Int(t), v >= 1 else { throw problem("max_in_flight", "must be a whole number ≥ 1") }
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
