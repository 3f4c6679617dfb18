import Crypto
import Foundation

/// A store's REST API key pair and how to present it.
public struct Credentials: Sendable, Equatable {
    /// How the key pair travels (WooCommerce: Basic over HTTPS, OAuth 1.0a over plain HTTP).
    public enum Auth: String, Sendable, CaseIterable {
        case basic, oauth1, query
    }

    public var consumerKey: String
    public var consumerSecret: String
    /// nil: Basic for `https://` stores, OAuth 1.0a for `http://` ones (as WooCommerce decides).
    public var auth: Auth?
    public var requestsPerSecond: Double
    /// Batches in flight at once. One by default: hosts throttle bulk writes (503s and empty
    /// bodies on shared hosting), and the API reference advises about one per store.
    public var maxInFlight: Int

    public init(consumerKey: String, consumerSecret: String, auth: Auth? = nil, requestsPerSecond: Double = 5, maxInFlight: Int = 1) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.auth = auth
        self.requestsPerSecond = requestsPerSecond
        self.maxInFlight = maxInFlight
    }

    /// A short, non-reversible fingerprint of the key pair: a pause for bad credentials lifts
    /// when it changes. Never the secret itself.
    public var fingerprint: String {
        let digest = SHA256.hash(data: Data("\(consumerKey)\u{0}\(consumerSecret)".utf8))
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public func auth(forHTTPS https: Bool) -> Auth { auth ?? (https ? .basic : .oauth1) }
}

/// One-legged OAuth 1.0a as WooCommerce verifies it over plain HTTP: HMAC-SHA256, parameters in
/// the query string, no token, signing key `secret&`, body not signed.
public enum OAuth1 {
    /// RFC 3986 percent-encoding (PHP's `rawurlencode`).
    public static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// The string WooCommerce signs: `METHOD&enc(url)&enc(k=v&…)` with parameters sorted by key.
    public static func baseString(method: String, url: String, parameters: [(String, String)]) -> String {
        let normalized = parameters
            .filter { $0.0 != "oauth_signature" }
            .map { (encode($0.0).replacingOccurrences(of: "%", with: "%25"), encode($0.1).replacingOccurrences(of: "%", with: "%25")) }
            .sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) || ($0.0 == $1.0 && $0.1.utf8.lexicographicallyPrecedes($1.1.utf8)) }
            .map { "\($0.0)%3D\($0.1)" }
            .joined(separator: "%26")
        return "\(method.uppercased())&\(encode(url))&\(normalized)"
    }

    public static func signature(method: String, url: String, parameters: [(String, String)], consumerSecret: String) -> String {
        let key = SymmetricKey(data: Data("\(consumerSecret)&".utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(baseString(method: method, url: url, parameters: parameters).utf8), using: key)
        return Data(mac).base64EncodedString()
    }

    /// The query parameters to add to a request: the oauth_* set with its signature.
    public static func sign(method: String, url: String, query: [(String, String)], consumerKey: String, consumerSecret: String,
                            timestamp: Int64, nonce: String) -> [(String, String)] {
        var parameters = query
        parameters.append(("oauth_consumer_key", consumerKey))
        parameters.append(("oauth_timestamp", String(timestamp)))
        parameters.append(("oauth_nonce", nonce))
        parameters.append(("oauth_signature_method", "HMAC-SHA256"))
        let signature = signature(method: method, url: url, parameters: parameters, consumerSecret: consumerSecret)
        return Array(parameters.dropFirst(query.count)) + [("oauth_signature", signature)]
    }
}
