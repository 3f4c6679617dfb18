import StockDomain
import Testing

@Suite("Exact decimal quantities (SPEC §2.2, §3.2)")
struct QuantityTests {
    func q(_ s: String) -> Quantity? { Quantity.parse(s) }
    func number(_ s: String) -> Result<Quantity, QuantityError> {
        var t = s
        return t.withUTF8 { Quantity.parse($0, allowExponent: true) }
    }

    @Test("decimal strings and JSON numbers read to the same exact value")
    func forms() throws {
        #expect(q("7.00000") == Quantity(7))
        #expect(try number("7").get() == Quantity(7))
        #expect(try number("2.5").get() == q("2.50"))
        #expect(try number("1e3").get() == Quantity(1000))
        #expect(try number("-0.5E1").get() == Quantity(-5))
        #expect(q("0.1")!.adding(q("0.2")!) == q("0.3"), "no binary floating point")
        #expect(q("0.005")!.description == "0.005")
        #expect(q("1.05")!.description == "1.05")
        #expect(q("00012.500")!.description == "12.5")
        #expect(try number("1.5e1").get() == Quantity(15))
        #expect(try number("120e-3").get().description == "0.12")
        #expect(q("-")  == nil && q("1.2.3") == nil && q("1-2") == nil)
    }

    @Test("a decimal string may leave out the digits on one side of the point, never both; a JSON number follows JSON's grammar")
    func pointWithoutDigits() throws {
        // Spreadsheets and hand-made files write ".5" and "5."; what they mean is not in doubt.
        #expect(q(".5") == q("0.5") && q("-.5") == q("-0.5"))
        #expect(q("5.") == Quantity(5) && q("-5.") == Quantity(-5))
        for bad in [".", "-.", "", "5..", "..5"] { #expect(q(bad) == nil, "'\(bad)'") }
        for bad in [".5", "5.", "5.e3"] { #expect((try? number(bad).get()) == nil, "'\(bad)' is not a JSON number") }
    }

    @Test("at most 15 integer and 9 fractional digits are accepted")
    func limits() {
        #expect(q("999999999999999.999999999") != nil)
        #expect(q("1000000000000000") == nil)
        #expect(q("0.0000000001") == nil)
        #expect(q("0.1000000000") != nil, "trailing zeros do not count")
        #expect(q("abc") == nil)
        #expect(q("") == nil)
        if case .failure(let e) = number("1.0000000001") { #expect(e.description.contains("9 fractional")) } else { Issue.record("accepted") }
    }

    @Test("canonical text: no exponent, no trailing zeros")
    func canonical() {
        #expect(q("10.000")!.description == "10")
        #expect(q("-3")!.description == "-3")
        #expect(q("2.50")!.description == "2.5")
        #expect(q("-0.000000001")!.description == "-0.000000001")
        #expect(Quantity.zero.description == "0")
        #expect(q("-0")!.description == "0")
    }

    @Test("what the engine computes reads back exactly from its text: 18 fractional digits, sums past 15 integer digits")
    func storedText() throws {
        let third = try #require(q("0.5")!.multiplied(by: q("0.333333333")!))
        #expect(third.description == "0.1666666665")
        #expect(q(third.description) == nil, "beyond the input limits")
        var big = q("999999999999999.999999999")!
        for _ in 0..<2 { big = big.adding(big)! }
        let values = [third, big, Quantity(raw: 1), Quantity(raw: -1), Quantity(raw: Int128.max), Quantity(raw: Int128.min), Quantity(raw: Int128.min + 1),
                      .zero, Quantity(-3), q("2.5")!]
        for v in values { #expect(Quantity.parseStored(v.description) == v, "\(v)") }
        for bad in ["", "-", ".5", "5.", "1.2.3", "1..2", "--5", "-.5", "5-", ".", "1e3", "0.1234567890123456789", "+1", " 1", "340282366920938463464.0", "170141183460469231731.687303715884105728"] {
            #expect(Quantity.parseStored(bad) == nil, "'\(bad)'")
        }
    }

    @Test("floor goes toward minus infinity (pushed values, SPEC §2.2)")
    func floor() {
        #expect(q("2.99")!.floor == 2)
        #expect(q("-0.5")!.floor == -1)
        #expect(q("-3")!.floor == -3)
        #expect(q("0")!.floor == 0)
    }

    @Test("products of two inputs are exact (purchase conversion, kit components)")
    func multiply() {
        #expect(q("0.333333333")!.multiplied(by: Quantity(3)) == q("0.999999999"))
        #expect(q("1.5")!.multiplied(by: q("2.5")!) == q("3.75"))
        let tiny = q("0.000000001")!.multiplied(by: q("0.000000001")!)!
        #expect(tiny.description == "0.000000000000000001")
        #expect(q("999999999999999")!.multiplied(by: q("999999999999999")!) == nil, "overflow is reported, not wrapped")
    }
}

@Suite("Timestamps compare as instants (SPEC §2.6 rule 8)")
struct InstantTests {
    @Test("offsets are honoured; text order is not instant order")
    func offsets() throws {
        let a = try #require(Instant.parse("2026-11-26T12:00:00+02:00"))
        let b = try #require(Instant.parse("2026-11-26T11:00:00Z"))
        #expect(a < b)
        #expect(Instant.parse("2026-11-26T11:00:00.000Z") == b)
        #expect(Instant.parse("2026-11-26T11:00:00") == nil, "an event timestamp needs an offset")
        #expect(Instant.parse("2026-11-26T11:00:00", offsetOptional: true) == b, "WooCommerce dates without offset are UTC")
        #expect(Instant.parse("2026-02-30T00:00:00Z") == nil)
        #expect(Instant.parse("2026-11-26T10:00:00.123456789Z")!.nanoseconds == 123_456_789)
    }
}
