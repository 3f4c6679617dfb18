/// The compact encoding of event payloads in the journal (SPEC §3.1: "any encoding that
/// round-trips exactly to the interchange format"). Replay decodes every stored payload but
/// document snapshots (read in place, `DocumentBytes`), so this is a hot path: no text
/// scanning, no key lookups, integers as varints, quantities as a decimal mantissa and scale,
/// timestamps with their text and their instant.
///
/// Layout: a format byte (never `{`, so JSON payloads of older journals stay readable), the
/// event type's index, then the fields of that type in a fixed order. Every value the
/// interchange format keeps is kept: `decode(encode(p)) == p`, so export is unchanged.
public enum BinaryPayload {
    /// The first byte of every binary payload. JSON payloads start with `{` (0x7B).
    public static let format: UInt8 = 0x01

    /// Whether stored payload bytes are in this encoding (else they are canonical JSON).
    public static func isBinary(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.first == format }

    static let types = EventType.allCases
    /// Set in the type byte when the type's payload has its second layout, with fields added
    /// after the type's first layout was fixed (a resync's list of products). A flag in the
    /// type byte rather than a trailing field: a payload cut after its first fields must not
    /// read as the first layout. Type indices stay below it (21 types).
    static let secondLayout: UInt8 = 0x80
    static let powersOfTen: [Int128] = (0...18).map { n in (0..<n).reduce(Int128(1)) { acc, _ in acc * 10 } }
    static let smallPowersOfTen: [UInt64] = (0...18).map { n in (0..<n).reduce(UInt64(1)) { acc, _ in acc * 10 } }

    // MARK: Encoding

    /// Writes the encoding of `payload` into `out`, replacing what it held, reusing its storage.
    public static func encode(_ payload: EventPayload, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        append(payload, to: &out)
    }

    /// Appends the encoding of `payload` to `out`, after what it holds.
    public static func append(_ payload: EventPayload, to out: inout [UInt8]) {
        var w = Writer(bytes: out)
        out = []
        w.byte(format)
        var tag = UInt8(types.firstIndex(of: payload.type) ?? 0)
        if case .storeResyncRequested(let r) = payload, r.wooIDs != nil { tag |= secondLayout }
        w.byte(tag)
        switch payload {
        case .variantUpserted(let v):
            w.int(v.variantID)
            w.optionalString(v.sku)
            w.byte(v.kind == .product ? 0 : 1)
            w.count(v.components.count)
            for c in v.components { w.int(c.variantID); w.quantity(c.quantity) }
            w.count(v.wooLinks.count)
            for l in v.wooLinks { w.string(l.store); w.int(l.wooID) }
        case .variantDeleted(let id):
            w.int(id)
        case .salesOrderUpserted(let o):
            w.int(o.orderID)
            w.optionalString(o.orderNo)
            w.timestamp(o.updatedAt)
            w.enumeration(o.status)
            w.int(o.locationID)
            w.string(o.source)
            w.optionalString(o.store)
            w.count(o.rows.count)
            for r in o.rows {
                w.int(r.rowID); w.int(r.variantID); w.quantity(r.quantity)
                w.optionalQuantity(r.fulfilledQuantity); w.optionalInt(r.locationID)
            }
        case .manufacturingOrderUpserted(let o):
            w.int(o.orderID)
            w.timestamp(o.updatedAt)
            w.enumeration(o.status)
            w.int(o.locationID)
            w.int(o.variantID)
            w.quantity(o.plannedQuantity)
            w.optionalQuantity(o.completedQuantity)
            w.count(o.ingredients.count)
            for i in o.ingredients { w.int(i.variantID); w.quantity(i.plannedQuantity); w.optionalQuantity(i.consumedQuantity) }
        case .purchaseOrderUpserted(let o):
            w.int(o.orderID)
            w.timestamp(o.updatedAt)
            w.enumeration(o.status)
            w.int(o.locationID)
            w.count(o.rows.count)
            for r in o.rows {
                w.int(r.rowID); w.int(r.variantID); w.quantity(r.quantity)
                w.optionalQuantity(r.receivedQuantity); w.optionalQuantity(r.conversionRate); w.optionalInt(r.locationID)
            }
        case .stockAdjustmentUpserted(let a):
            w.int(a.adjustmentID)
            w.timestamp(a.updatedAt)
            w.int(a.locationID)
            w.count(a.rows.count)
            for r in a.rows { w.int(r.variantID); w.quantity(r.quantity) }
        case .stockTransferUpserted(let t):
            w.int(t.transferID)
            w.timestamp(t.updatedAt)
            w.enumeration(t.status)
            w.int(t.sourceLocationID)
            w.int(t.targetLocationID)
            w.count(t.rows.count)
            for r in t.rows { w.int(r.variantID); w.quantity(r.quantity) }
        case .documentDeleted(_, let id):
            w.int(id)
        case .inventoryReconciled(let r):
            w.int(r.variantID); w.int(r.locationID); w.quantity(r.inStock)
        case .storeConnected(let s):
            w.string(s.store); w.string(s.url); w.int(s.locationID)
            w.bool(s.stockSync); w.bool(s.katanaOrdersReduceStock); w.bool(s.floorAtZero)
        case .storeReconfigured(let c):
            w.string(c.store); w.optionalString(c.url); w.optionalInt(c.locationID)
            w.optionalBool(c.stockSync); w.optionalBool(c.katanaOrdersReduceStock); w.optionalBool(c.floorAtZero)
        case .storeDisconnected(let s):
            w.string(s)
        case .storeResyncRequested(let r):
            // A resync of every product keeps the bytes it had before lists existed.
            w.string(r.store)
            if let ids = r.wooIDs {
                w.count(ids.count)
                for id in ids { w.int(id) }
            }
        case .wooProductUpserted(let p):
            w.string(p.store); w.int(p.wooID); w.optionalInt(p.parentID); w.optionalString(p.sku)
            w.optionalTimestamp(p.dateCreated); w.optionalString(p.type)
        case .wooProductDeleted(let store, let wooID):
            w.string(store); w.int(wooID)
        case .wooStockAcknowledged(let a):
            w.string(a.store); w.int(a.wooID); w.int(a.sent); w.optionalInt(a.echoed)
        case .wooStockRejected(let r):
            w.string(r.store); w.int(r.wooID); w.int(r.sent); w.string(r.code); w.int(r.status)
        }
        out = w.bytes
    }

    public static func encode(_ payload: EventPayload) -> [UInt8] {
        var out: [UInt8] = []
        encode(payload, into: &out)
        return out
    }

    // MARK: Decoding

    /// Decodes a payload written by `encode`. The event type is part of the encoding; a
    /// truncated or foreign byte string is an error, never a crash.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(EventError) -> EventPayload {
        var r = Reader(bytes: bytes)
        guard try r.byte() == format else { throw EventError(field: nil, "not a binary payload") }
        let tag = try r.byte()
        let index = Int(tag & ~secondLayout)
        guard index < types.count else { throw EventError(field: nil, "unknown event type \(index) in binary payload") }
        let second = tag & secondLayout != 0
        guard !second || types[index] == .storeResyncRequested else {
            throw EventError(field: nil, "event type \(types[index].rawValue) has no second layout in binary payload")
        }
        let payload = try decodeFields(types[index], second: second, &r)
        guard r.offset == bytes.count else { throw EventError(field: nil, "binary payload has \(bytes.count - r.offset) trailing bytes") }
        return payload
    }

    /// The event type a binary payload carries.
    public static func type(of bytes: UnsafeRawBufferPointer) -> EventType? {
        guard bytes.count >= 2, bytes[0] == format, Int(bytes[1] & ~secondLayout) < types.count else { return nil }
        return types[Int(bytes[1] & ~secondLayout)]
    }

    static func decodeFields(_ type: EventType, second: Bool, _ r: inout Reader) throws(EventError) -> EventPayload {
        switch type {
        case .variantUpserted:
            let id = try r.int()
            let sku = try r.optionalString()
            let kind: VariantDeclaration.Kind = try r.byte() == 0 ? .product : .material
            let components: [VariantDeclaration.Component] = try r.array { r throws(EventError) in .init(variantID: try r.int(), quantity: try r.quantity()) }
            let links: [VariantDeclaration.WooLink] = try r.array { r throws(EventError) in .init(store: try r.string(), wooID: try r.int()) }
            return .variantUpserted(VariantDeclaration(variantID: id, sku: sku, kind: kind, components: components, wooLinks: links))
        case .variantDeleted:
            return .variantDeleted(try r.int())
        case .salesOrderUpserted:
            let orderID = try r.int()
            let orderNo = try r.optionalString()
            let updatedAt = try r.timestamp()
            let status: SalesOrder.Status = try r.enumeration()
            let location = try r.int()
            let source = try r.string()
            let store = try r.optionalString()
            let rows = try r.array { r throws(EventError) in try r.salesOrderRow() }
            return .salesOrderUpserted(SalesOrder(orderID: orderID, orderNo: orderNo, updatedAt: updatedAt, status: status,
                                                  locationID: location, source: source, store: store, rows: rows))
        case .manufacturingOrderUpserted:
            let orderID = try r.int()
            let updatedAt = try r.timestamp()
            let status: ManufacturingOrder.Status = try r.enumeration()
            let location = try r.int()
            let variant = try r.int()
            let planned = try r.quantity()
            let completed = try r.optionalQuantity()
            let ingredients = try r.array { r throws(EventError) in try r.ingredient() }
            return .manufacturingOrderUpserted(ManufacturingOrder(orderID: orderID, updatedAt: updatedAt, status: status, locationID: location,
                                                                  variantID: variant, plannedQuantity: planned, completedQuantity: completed,
                                                                  ingredients: ingredients))
        case .purchaseOrderUpserted:
            let orderID = try r.int()
            let updatedAt = try r.timestamp()
            let status: PurchaseOrder.Status = try r.enumeration()
            let location = try r.int()
            let rows = try r.array { r throws(EventError) in try r.purchaseOrderRow() }
            return .purchaseOrderUpserted(PurchaseOrder(orderID: orderID, updatedAt: updatedAt, status: status, locationID: location, rows: rows))
        case .stockAdjustmentUpserted:
            let id = try r.int()
            let updatedAt = try r.timestamp()
            let location = try r.int()
            let rows = try r.array { r throws(EventError) in try r.adjustmentRow() }
            return .stockAdjustmentUpserted(StockAdjustment(adjustmentID: id, updatedAt: updatedAt, locationID: location, rows: rows))
        case .stockTransferUpserted:
            let id = try r.int()
            let updatedAt = try r.timestamp()
            let status: StockTransfer.Status = try r.enumeration()
            let source = try r.int()
            let target = try r.int()
            let rows = try r.array { r throws(EventError) in try r.transferRow() }
            return .stockTransferUpserted(StockTransfer(transferID: id, updatedAt: updatedAt, status: status, sourceLocationID: source,
                                                        targetLocationID: target, rows: rows))
        case .salesOrderDeleted: return .documentDeleted(.salesOrder, try r.int())
        case .manufacturingOrderDeleted: return .documentDeleted(.manufacturingOrder, try r.int())
        case .purchaseOrderDeleted: return .documentDeleted(.purchaseOrder, try r.int())
        case .stockAdjustmentDeleted: return .documentDeleted(.stockAdjustment, try r.int())
        case .stockTransferDeleted: return .documentDeleted(.stockTransfer, try r.int())
        case .inventoryReconciled:
            return .inventoryReconciled(InventoryReconciliation(variantID: try r.int(), locationID: try r.int(), inStock: try r.quantity()))
        case .storeConnected:
            return .storeConnected(StoreSettings(store: try r.string(), url: try r.string(), locationID: try r.int(), stockSync: try r.bool(),
                                                 katanaOrdersReduceStock: try r.bool(), floorAtZero: try r.bool()))
        case .storeReconfigured:
            return .storeReconfigured(StoreChange(store: try r.string(), url: try r.optionalString(), locationID: try r.optionalInt(),
                                                  stockSync: try r.optionalBool(), katanaOrdersReduceStock: try r.optionalBool(),
                                                  floorAtZero: try r.optionalBool()))
        case .storeDisconnected: return .storeDisconnected(try r.string())
        case .storeResyncRequested:
            let store = try r.string()
            let ids: [WooID]? = second ? try r.array { r throws(EventError) in try r.int() } : nil
            return .storeResyncRequested(ResyncRequest(store: store, wooIDs: ids))
        case .wooProductUpserted:
            return .wooProductUpserted(WooProduct(store: try r.string(), wooID: try r.int(), parentID: try r.optionalInt(), sku: try r.optionalString(),
                                                  dateCreated: try r.optionalTimestamp(), type: try r.optionalString()))
        case .wooProductDeleted:
            return .wooProductDeleted(store: try r.string(), wooID: try r.int())
        case .wooStockAcknowledged:
            return .wooStockAcknowledged(StockAcknowledgement(store: try r.string(), wooID: try r.int(), sent: try r.int(), echoed: try r.optionalInt()))
        case .wooStockRejected:
            return .wooStockRejected(StockRejection(store: try r.string(), wooID: try r.int(), sent: try r.int(), code: try r.string(), status: try r.int()))
        }
    }

    // MARK: Primitives

    struct Writer {
        var bytes: [UInt8]

        mutating func byte(_ b: UInt8) { bytes.append(b) }
        mutating func bool(_ b: Bool) { bytes.append(b ? 1 : 0) }
        mutating func optionalBool(_ b: Bool?) { bytes.append(b.map { $0 ? 1 : 0 } ?? 2) }

        mutating func unsigned(_ value: UInt64) { varint(value) }
        mutating func unsigned128(_ value: UInt128) { varint(value) }

        mutating func varint<T: FixedWidthInteger & UnsignedInteger>(_ value: T) {
            var v = value
            while v >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }
        /// Zigzag: small magnitudes of either sign take few bytes.
        mutating func int(_ value: Int64) { unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63))) }
        mutating func count(_ n: Int) { unsigned(UInt64(n)) }
        mutating func optionalInt(_ value: Int64?) {
            guard let value else { bytes.append(0); return }
            bytes.append(1); int(value)
        }

        mutating func string(_ s: String) {
            var s = s
            s.withUTF8 { utf8 in
                unsigned(UInt64(utf8.count))
                bytes.append(contentsOf: utf8)
            }
        }
        mutating func optionalString(_ s: String?) {
            guard let s else { bytes.append(0); return }
            bytes.append(1); string(s)
        }

        /// A quantity as (fraction digits, mantissa): `5` is 2 bytes, `2.5` is 2 bytes.
        mutating func quantity(_ q: Quantity) {
            // Zero is common (rows named with no effect, fulfilled rests): no arithmetic.
            if q.raw == 0 { bytes.append(0); bytes.append(0); return }
            var mantissa = q.raw
            var digits: UInt8 = 18
            let magnitude = mantissa.magnitude
            if magnitude >> 64 < 1_000_000_000,
               case let (nanos, rest) = UInt64(1_000_000_000).dividingFullWidth((UInt64(magnitude >> 64), UInt64(truncatingIfNeeded: magnitude))),
               rest == 0 {
                // At most 9 fractional digits (every input) and below about ten billion units:
                // 64-bit arithmetic, where 128-bit division is a library call per step.
                var m = nanos
                digits = 9
                while digits > 0 && m % 10 == 0 { m /= 10; digits -= 1 }
                mantissa = mantissa < 0 ? -Int128(m) : Int128(m)
            } else {
                while digits > 0 && mantissa % 10 == 0 { mantissa /= 10; digits -= 1 }
            }
            bytes.append(digits)
            unsigned128(UInt128(bitPattern: (mantissa << 1) ^ (mantissa >> 127)))
        }
        mutating func optionalQuantity(_ q: Quantity?) {
            guard let q else { bytes.append(0); return }
            bytes.append(1); quantity(q)
        }

        /// The text as given (export is byte-stable) and the instant, so decoding does not parse.
        mutating func timestamp(_ t: Timestamp) {
            string(t.text)
            int(t.instant.seconds)
            unsigned(UInt64(UInt32(bitPattern: t.instant.nanoseconds)))
        }
        mutating func optionalTimestamp(_ t: Timestamp?) {
            guard let t else { bytes.append(0); return }
            bytes.append(1); timestamp(t)
        }

        mutating func enumeration<E: CaseIterable & Equatable>(_ value: E) where E.AllCases: RandomAccessCollection {
            let index = E.allCases.firstIndex(of: value) ?? E.allCases.startIndex
            bytes.append(UInt8(E.allCases.distance(from: E.allCases.startIndex, to: index)))
        }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        static let truncated = EventError(field: nil, "binary payload is truncated")

        mutating func byte() throws(EventError) -> UInt8 {
            guard offset < bytes.count else { throw Reader.truncated }
            defer { offset += 1 }
            return bytes[offset]
        }
        mutating func bool() throws(EventError) -> Bool { try byte() != 0 }
        mutating func optionalBool() throws(EventError) -> Bool? {
            switch try byte() {
            case 0: return false
            case 1: return true
            default: return nil
            }
        }

        mutating func unsigned() throws(EventError) -> UInt64 { try varint(UInt64.self) }
        mutating func unsigned128() throws(EventError) -> UInt128 { try varint(UInt128.self) }

        mutating func varint<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(EventError) -> T {
            var value: T = 0
            var shift = 0
            while true {
                let b = try byte()
                guard shift < T.bitWidth else { throw EventError(field: nil, "binary payload has an overlong integer") }
                value |= T(b & 0x7F) << shift
                if b < 0x80 { return value }
                shift += 7
            }
        }
        mutating func int() throws(EventError) -> Int64 {
            let u = try unsigned()
            return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
        }
        mutating func count() throws(EventError) -> Int {
            let n = try unsigned()
            // Every element takes at least one byte: a larger count is corruption, not a reason to allocate.
            guard n <= UInt64(bytes.count - offset) else { throw Reader.truncated }
            return Int(n)
        }
        mutating func optionalInt() throws(EventError) -> Int64? { try byte() == 0 ? nil : try int() }

        /// A count, then that many elements.
        mutating func array<T>(_ element: (inout Reader) throws(EventError) -> T) throws(EventError) -> [T] {
            let n = try count()
            var out: [T] = []
            out.reserveCapacity(n)
            for _ in 0..<n { out.append(try element(&self)) }
            return out
        }

        mutating func string() throws(EventError) -> String {
            let n = try count()
            defer { offset += n }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
        }
        mutating func optionalString() throws(EventError) -> String? { try byte() == 0 ? nil : try string() }

        mutating func quantity() throws(EventError) -> Quantity {
            let digits = try byte()
            guard digits <= 18 else { throw EventError(field: nil, "binary payload has a bad quantity scale") }
            // Nearly every mantissa fits 63 bits: 64-bit decoding and one full-width multiply,
            // which cannot overflow, where the general path shifts and multiplies in 128 bits
            // with a check (replay decodes a few quantities per event on each thread).
            let start = offset
            var small: UInt64 = 0
            var shift: UInt64 = 0
            while offset < bytes.count && shift < 63 {
                let b = bytes[offset]
                offset += 1
                small |= UInt64(b & 0x7F) << shift
                if b < 0x80 {
                    let mantissa = Int64(bitPattern: (small >> 1) ^ (0 &- (small & 1)))
                    let (high, low) = mantissa.multipliedFullWidth(by: Int64(bitPattern: BinaryPayload.smallPowersOfTen[18 - Int(digits)]))
                    return Quantity(raw: Int128(high) << 64 | Int128(low))
                }
                shift += 7
            }
            offset = start
            let u = try unsigned128()
            let mantissa = Int128(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
            let (raw, overflow) = mantissa.multipliedReportingOverflow(by: BinaryPayload.powersOfTen[18 - Int(digits)])
            guard !overflow else { throw EventError(field: nil, "binary payload has an out-of-range quantity") }
            return Quantity(raw: raw)
        }
        mutating func optionalQuantity() throws(EventError) -> Quantity? { try byte() == 0 ? nil : try quantity() }

        mutating func timestamp() throws(EventError) -> Timestamp {
            let text = try string()
            return Timestamp(text: text, instant: try instant())
        }
        /// A timestamp's instant, after its text.
        mutating func instant() throws(EventError) -> Instant {
            let seconds = try int()
            let nanos = try unsigned()
            guard nanos < 1_000_000_000 else { throw EventError(field: nil, "binary payload has a bad timestamp") }
            return Instant(seconds: seconds, nanoseconds: Int32(nanos))
        }
        mutating func optionalTimestamp() throws(EventError) -> Timestamp? { try byte() == 0 ? nil : try timestamp() }

        // Document rows, shared with the in-place reading of snapshots (`DocumentBytes`).
        mutating func salesOrderRow() throws(EventError) -> SalesOrder.Row {
            .init(rowID: try int(), variantID: try int(), quantity: try quantity(), fulfilledQuantity: try optionalQuantity(),
                  locationID: try optionalInt())
        }
        mutating func ingredient() throws(EventError) -> ManufacturingOrder.Ingredient {
            .init(variantID: try int(), plannedQuantity: try quantity(), consumedQuantity: try optionalQuantity())
        }
        mutating func purchaseOrderRow() throws(EventError) -> PurchaseOrder.Row {
            .init(rowID: try int(), variantID: try int(), quantity: try quantity(), receivedQuantity: try optionalQuantity(),
                  conversionRate: try optionalQuantity(), locationID: try optionalInt())
        }
        mutating func adjustmentRow() throws(EventError) -> StockAdjustment.Row { .init(variantID: try int(), quantity: try quantity()) }
        mutating func transferRow() throws(EventError) -> StockTransfer.Row { .init(variantID: try int(), quantity: try quantity()) }

        mutating func enumeration<E: CaseIterable>() throws(EventError) -> E where E.AllCases: RandomAccessCollection {
            let i = Int(try byte())
            guard i < E.allCases.count else { throw EventError(field: nil, "binary payload has an unknown status") }
            return E.allCases[E.allCases.index(E.allCases.startIndex, offsetBy: i)]
        }
    }
}
