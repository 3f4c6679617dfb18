/// An exact decimal quantity, stored as an integer count of 10⁻¹⁸ units.
///
/// Journal inputs carry at most 9 fractional digits; a product of two of them (a purchase
/// row times its conversion rate, a kit row times a component's per-unit quantity) has at
/// most 18, so every value the engine computes is exact. Binary floating point never enters.
public struct Quantity: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let scale: Int128 = 1_000_000_000_000_000_000
    static let inputFractionScale: Int128 = 1_000_000_000
    /// Inputs have at most this many digits before the point (SPEC §3.2).
    public static let maxIntegerDigits = 15
    /// Inputs have at most this many digits after the point (SPEC §3.2).
    public static let maxFractionDigits = 9

    public var raw: Int128

    public init(raw: Int128) { self.raw = raw }
    public init(_ integer: Int) { self.raw = Int128(integer) * Quantity.scale }

    public static let zero = Quantity(raw: 0)

    public static func < (a: Quantity, b: Quantity) -> Bool { a.raw < b.raw }

    /// Sum; nil on overflow (far outside any real stock figure).
    public func adding(_ other: Quantity) -> Quantity? {
        let (value, overflow) = raw.addingReportingOverflow(other.raw)
        return overflow ? nil : Quantity(raw: value)
    }

    public func subtracting(_ other: Quantity) -> Quantity? {
        let (value, overflow) = raw.subtractingReportingOverflow(other.raw)
        return overflow ? nil : Quantity(raw: value)
    }

    /// Exact product when one factor has at most 9 fractional digits (every journal input
    /// does); nil on overflow or when neither factor qualifies.
    public func multiplied(by other: Quantity) -> Quantity? {
        let (a, b): (Int128, Int128)
        if other.raw % Quantity.inputFractionScale == 0 {
            (a, b) = (raw, other.raw / Quantity.inputFractionScale)
        } else if raw % Quantity.inputFractionScale == 0 {
            (a, b) = (other.raw, raw / Quantity.inputFractionScale)
        } else {
            return nil
        }
        // a·b is scaled by 10^27; divide by 10^9 exactly when a has ≤ 9 fractional digits.
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        if !overflow, product % Quantity.inputFractionScale == 0 {
            return Quantity(raw: product / Quantity.inputFractionScale)
        }
        // Fall back to dividing first: exact because a is a multiple of 10^9 here.
        guard a % Quantity.inputFractionScale == 0 else { return nil }
        let (value, overflow2) = (a / Quantity.inputFractionScale).multipliedReportingOverflow(by: b)
        return overflow2 ? nil : Quantity(raw: value)
    }

    public static func max(_ a: Quantity, _ b: Quantity) -> Quantity { a.raw >= b.raw ? a : b }

    public var isNegative: Bool { raw < 0 }

    /// The largest integer ≤ self (WooCommerce stock is an integer: SPEC §2.2), clamped to Int64.
    public var floor: Int64 {
        var (q, r) = raw.quotientAndRemainder(dividingBy: Quantity.scale)
        if r < 0 { q -= 1 }
        if q > Int128(Int64.max) { return Int64.max }
        if q < Int128(Int64.min) { return Int64.min }
        return Int64(q)
    }

    /// Canonical decimal text: no exponent, no trailing zeros, "-" for negatives, "0" for zero.
    public var description: String {
        let negative = raw < 0
        let magnitude = raw.magnitude
        let scale = UInt128(Quantity.scale)
        let integer = magnitude / scale
        var fraction = magnitude % scale
        var text = negative ? "-" : ""
        text += String(integer)
        if fraction != 0 {
            var digits = 18
            while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
            let f = String(fraction)
            text += "." + String(repeating: "0", count: digits - f.count) + f
        }
        return text
    }

    /// Parses a decimal from JSON number text or a decimal string: optional "-", digits, an
    /// optional fraction and (JSON numbers only) an exponent. Enforces the input limits of
    /// SPEC §3.2 (15 integer digits, 9 fractional digits). Returns nil with a reason otherwise.
    public static func parse<C: Collection>(_ bytes: C, allowExponent: Bool = true) -> Result<Quantity, QuantityError>
    where C.Element == UInt8 {
        var digits: [UInt8] = []
        digits.reserveCapacity(24)
        var negative = false
        var pointIndex: Int? = nil
        var exponent = 0
        var index = bytes.startIndex
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") { negative = true; index = bytes.index(after: index) }
        var sawDigit = false
        while index < bytes.endIndex {
            let c = bytes[index]
            if c >= 48 && c <= 57 {
                digits.append(c - 48); sawDigit = true
            } else if c == UInt8(ascii: "."), pointIndex == nil {
                pointIndex = digits.count
            } else if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), allowExponent, sawDigit {
                index = bytes.index(after: index)
                var expNegative = false
                if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") || bytes[index] == UInt8(ascii: "+") {
                    expNegative = bytes[index] == UInt8(ascii: "-"); index = bytes.index(after: index)
                }
                var sawExp = false
                while index < bytes.endIndex {
                    let d = bytes[index]
                    guard d >= 48 && d <= 57 else { return .failure(.malformed) }
                    if exponent < 1000 { exponent = exponent * 10 + Int(d - 48) }
                    sawExp = true
                    index = bytes.index(after: index)
                }
                guard sawExp else { return .failure(.malformed) }
                if expNegative { exponent = -exponent }
                break
            } else {
                return .failure(.malformed)
            }
            index = bytes.index(after: index)
        }
        guard sawDigit else { return .failure(.malformed) }
        if let p = pointIndex, p == digits.count { return .failure(.malformed) }
        var fractionDigits = (pointIndex.map { digits.count - $0 } ?? 0) - exponent
        // Drop trailing zeros of the fraction ("7.00000" is 7) before checking limits.
        while fractionDigits > 0, let last = digits.last, last == 0 { digits.removeLast(); fractionDigits -= 1 }
        // Leading zeros do not count as integer digits.
        var start = 0
        while start < digits.count, digits[start] == 0 { start += 1 }
        let significant = digits[start...]
        if significant.isEmpty { return .success(.zero) }
        if fractionDigits > maxFractionDigits { return .failure(.tooManyFractionDigits) }
        if significant.count - fractionDigits > maxIntegerDigits { return .failure(.tooManyIntegerDigits) }
        var value: Int128 = 0
        for d in significant { value = value * 10 + Int128(d) }
        // Scale to 10^-18 units: the value is significant × 10^-fractionDigits.
        let shift = 18 - fractionDigits
        for _ in 0..<shift { value *= 10 }
        return .success(Quantity(raw: negative ? -value : value))
    }

    public static func parse(_ text: String) -> Quantity? {
        var t = text
        return t.withUTF8 { try? parse($0, allowExponent: false).get() }
    }
}

/// Why a decimal could not be read.
public enum QuantityError: Error, Sendable, CustomStringConvertible {
    case malformed, tooManyFractionDigits, tooManyIntegerDigits
    public var description: String {
        switch self {
        case .malformed: return "is not a decimal number"
        case .tooManyFractionDigits: return "has more than \(Quantity.maxFractionDigits) fractional digits"
        case .tooManyIntegerDigits: return "has more than \(Quantity.maxIntegerDigits) integer digits"
        }
    }
}
