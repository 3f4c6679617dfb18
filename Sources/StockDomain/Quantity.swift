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
        var bytes: [UInt8] = []
        appendCanonical(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the canonical text's UTF-8 bytes (the encoder's hot path: no intermediate strings).
    public func appendCanonical(to bytes: inout [UInt8]) {
        if raw < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = raw.magnitude
        let scale = UInt128(Quantity.scale)
        appendDigits(magnitude / scale, to: &bytes)
        var fraction = magnitude % scale
        guard fraction != 0 else { return }
        var digits = 18
        while fraction % 10 == 0 { fraction /= 10; digits -= 1 }
        bytes.append(UInt8(ascii: "."))
        var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, enough for 18 digits
        withUnsafeMutableBytes(of: &buffer) { scratch in
            for i in stride(from: digits - 1, through: 0, by: -1) {
                scratch[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
                fraction /= 10
            }
            bytes.append(contentsOf: scratch[0..<digits])
        }
    }

    private func appendDigits(_ value: UInt128, to bytes: inout [UInt8]) {
        if value == 0 { bytes.append(UInt8(ascii: "0")); return }
        var v = value
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 40 bytes: UInt128 has ≤ 39 digits
        withUnsafeMutableBytes(of: &buffer) { scratch in
            var i = scratch.count
            while v != 0 {
                i -= 1
                scratch[i] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            bytes.append(contentsOf: scratch[i...])
        }
    }

    /// Parses a decimal from JSON number text or a decimal string: optional "-", digits, an
    /// optional fraction and (JSON numbers only) an exponent. Enforces the input limits of
    /// SPEC §3.2 (15 integer digits, 9 fractional digits). Returns nil with a reason otherwise.
    public static func parse<C: Collection>(_ bytes: C, allowExponent: Bool = true) -> Result<Quantity, QuantityError>
    where C.Element == UInt8 {
        // One pass, no allocation: digits accumulate into `mantissa`; zeros after the point are
        // held back until a non-zero digit follows, so trailing zeros ("7.00000") cost nothing.
        var mantissa: Int128 = 0
        var significant = 0      // digits in `mantissa` (leading zeros excluded)
        var fraction = 0         // fraction digits in `mantissa`
        var heldZeros = 0        // fraction zeros not yet multiplied in
        var sawDigit = false, sawPoint = false, digitAfterPoint = false
        var negative = false
        var exponent = 0
        var index = bytes.startIndex
        if index < bytes.endIndex, bytes[index] == UInt8(ascii: "-") { negative = true; index = bytes.index(after: index) }
        while index < bytes.endIndex {
            let c = bytes[index]
            if c >= 48 && c <= 57 {
                let d = Int128(c - 48)
                sawDigit = true
                if sawPoint {
                    digitAfterPoint = true
                    if d == 0 {
                        heldZeros += 1
                    } else {
                        for _ in 0...heldZeros { mantissa *= 10 }
                        if mantissa != 0 || d != 0 { significant += mantissa == 0 ? 1 : heldZeros + 1 }
                        mantissa += d
                        fraction += heldZeros + 1
                        heldZeros = 0
                    }
                } else if mantissa != 0 || d != 0 {
                    mantissa = mantissa * 10 + d
                    significant += 1
                }
                if significant > 30 { return .failure(sawPoint ? .tooManyFractionDigits : .tooManyIntegerDigits) }
            } else if c == UInt8(ascii: "."), !sawPoint, sawDigit || !allowExponent {
                sawPoint = true
            } else if (c == UInt8(ascii: "e") || c == UInt8(ascii: "E")), allowExponent, sawDigit, !sawPoint || digitAfterPoint {
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
        // A decimal string may end at its point ("5."), as it may start with it (".5"); JSON's
        // numbers allow neither.
        guard sawDigit, !sawPoint || digitAfterPoint || !allowExponent else { return .failure(.malformed) }
        if mantissa == 0 { return .success(.zero) }
        let fractionDigits = fraction - exponent
        if fractionDigits > maxFractionDigits { return .failure(.tooManyFractionDigits) }
        if significant - fractionDigits > maxIntegerDigits { return .failure(.tooManyIntegerDigits) }
        // Scale to 10^-18 units: the value is mantissa × 10^-fractionDigits.
        for _ in 0..<(18 - fractionDigits) { mantissa *= 10 }
        return .success(Quantity(raw: negative ? -mantissa : mantissa))
    }

    public static func parse(_ text: String) -> Quantity? {
        var t = text
        return t.withUTF8 { try? parse($0, allowExponent: false).get() }
    }

    /// Reads back a quantity the engine wrote (`description`): any value it holds, with up to
    /// 18 fractional digits and more than 15 integer digits, where `parse` holds inputs to the
    /// limits of SPEC §3.2. A sum or a product of inputs (a purchase row times a conversion
    /// rate of 0.333333333) goes beyond those limits and must still read back exactly.
    public static func parseStored(_ text: String) -> Quantity? {
        var t = text
        return t.withUTF8 { parseStored($0) }
    }

    /// `parseStored` over the bytes of a stored value (a column read in place): it runs once per
    /// number of every stored row when a projection loads, so it allocates nothing.
    public static func parseStored(_ bytes: UnsafeBufferPointer<UInt8>) -> Quantity? {
        var i = 0
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { i = 1 }
        // The magnitude, so that the most negative value (one more than the most positive) reads too.
        var magnitude: UInt128 = 0
        var wholeDigits = 0, fractionDigits = 0, point = false
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if b == UInt8(ascii: "."), !point {
                point = true
                continue
            }
            guard b >= 48 && b <= 57 else { return nil }
            if point { fractionDigits += 1 } else { wholeDigits += 1 }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(UInt128(b - 48))
            guard !o1, !o2 else { return nil }
            magnitude = next
        }
        guard wholeDigits > 0, fractionDigits <= 18, !point || fractionDigits > 0 else { return nil }
        for _ in fractionDigits..<18 {
            let (times10, overflow) = magnitude.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            magnitude = times10
        }
        guard magnitude <= (negative ? Int128.min.magnitude : UInt128(Int128.max)) else { return nil }
        return Quantity(raw: negative ? Int128(truncatingIfNeeded: 0 &- magnitude) : Int128(magnitude))
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
