import Foundation

/// Exponential backoff with jitter, honouring `Retry-After` (SPEC §4). Settings, so tests run short.
public struct RetryPolicy: Sendable {
    public var firstDelay: Double
    public var maxDelay: Double
    public init(firstDelay: Double = 1, maxDelay: Double = 300) { self.firstDelay = firstDelay; self.maxDelay = maxDelay }

    /// The longest `Retry-After` honoured: a store (or a proxy) asking for more is retried after
    /// a day rather than in a year, or never.
    public static let longestRetryAfter: Double = 86_400

    /// Seconds to wait after the `failures`-th consecutive failure (1-based).
    public func delay(failures: Int, retryAfter: Double?) -> Double {
        let exponential = min(maxDelay, firstDelay * pow(2, Double(max(0, failures - 1))))
        let jittered = exponential * Double.random(in: 0.75...1.0)
        return max(jittered, min(retryAfter ?? 0, RetryPolicy.longestRetryAfter))
    }
}

/// A store's request rate (`requests_per_second`): each request starts no earlier than the one
/// before it plus the interval. Time left idle is not banked, so a store never gets a burst.
public struct RequestPace: Sendable {
    public let interval: Double
    private var next: Date

    public init(requestsPerSecond: Double, from start: Date = Date()) {
        interval = 1 / max(0.001, requestsPerSecond)
        next = start
    }

    /// When the request asked for at `now` may start; the slot after it is taken.
    public mutating func start(now: Date = Date()) -> Date {
        let start = max(next, now)
        next = start.addingTimeInterval(interval)
        return start
    }
}
