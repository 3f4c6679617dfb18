/// Document snapshots read in place from their binary journal payload, straight into packed
/// effects: replay's reading thread spent about half its time building `EventPayload` values
/// (rows arrays, strings) and `[Effect]` arrays that it threw away at once, and ingest's writing
/// thread has the encoded bytes at hand. The rules are
/// `DocumentEffects`' own, row by row; only the reading differs.
///
/// Every field is read, and checked, exactly as `BinaryPayload.decode` reads it, so a payload
/// is taken here only when decoding it would succeed; anything unusual (a JSON payload of an
/// older journal, a corrupt one, a quantity out of range) is left to the decoding path, which
/// reports it as it always has.
enum DocumentBytes {
    /// What the ledger needs of a snapshot besides its effects.
    struct Snapshot {
        var key: DocumentKey
        var updatedAt: Instant
    }

    /// Writes the effects of the document snapshot in `bytes` into `effects` and returns its
    /// key and instant; nil when `bytes` is not a binary document snapshot. Throws when the
    /// payload is corrupt or a quantity overflows; `effects` then holds a part.
    static func read(_ bytes: UnsafeRawBufferPointer, recipes: [VariantKey: [VariantDeclaration.Component]],
                     into effects: inout BinaryPayload.Writer) throws(EventError) -> Snapshot? {
        guard let type = BinaryPayload.type(of: bytes), bytes[1] & BinaryPayload.secondLayout == 0 else { return nil }
        var r = BinaryPayload.Reader(bytes: bytes, offset: 2)
        let snapshot: Snapshot
        switch type {
        case .salesOrderUpserted:
            let id = try r.int()
            try r.skipOptionalString()
            let updatedAt = try r.timestampInstant()
            let status: SalesOrder.Status = try r.enumeration()
            let locationID = try r.int()
            let fromWooCommerce = try r.stringEquals("woocommerce")
            try r.skipOptionalString()
            for i in 0..<(try r.count()) {
                let row = try r.salesOrderRow()
                // Kits' recipes as of now are frozen into the effect (rule 2).
                try DocumentEffects.salesRow(row, i, status: status, locationID: locationID, fromWooCommerce: fromWooCommerce,
                                             components: recipes[VariantKey(row.variantID)] ?? [], into: &effects)
            }
            snapshot = Snapshot(key: DocumentKey(.salesOrder, id), updatedAt: updatedAt)
        case .manufacturingOrderUpserted:
            let id = try r.int()
            let updatedAt = try r.timestampInstant()
            let status: ManufacturingOrder.Status = try r.enumeration()
            let locationID = try r.int()
            try DocumentEffects.manufacturingOutput(status: status, locationID: locationID, variantID: try r.int(),
                                                    planned: try r.quantity(), completed: try r.optionalQuantity(), into: &effects)
            for i in 0..<(try r.count()) {
                try DocumentEffects.ingredientRow(try r.ingredient(), i, status: status, locationID: locationID, into: &effects)
            }
            snapshot = Snapshot(key: DocumentKey(.manufacturingOrder, id), updatedAt: updatedAt)
        case .purchaseOrderUpserted:
            let id = try r.int()
            let updatedAt = try r.timestampInstant()
            let status: PurchaseOrder.Status = try r.enumeration()
            let locationID = try r.int()
            for i in 0..<(try r.count()) {
                try DocumentEffects.purchaseRow(try r.purchaseOrderRow(), i, status: status, locationID: locationID, into: &effects)
            }
            snapshot = Snapshot(key: DocumentKey(.purchaseOrder, id), updatedAt: updatedAt)
        case .stockAdjustmentUpserted:
            let id = try r.int()
            let updatedAt = try r.timestampInstant()
            let locationID = try r.int()
            for _ in 0..<(try r.count()) {
                DocumentEffects.adjustmentRow(try r.adjustmentRow(), locationID: locationID, into: &effects)
            }
            snapshot = Snapshot(key: DocumentKey(.stockAdjustment, id), updatedAt: updatedAt)
        case .stockTransferUpserted:
            let id = try r.int()
            let updatedAt = try r.timestampInstant()
            let status: StockTransfer.Status = try r.enumeration()
            let source = try r.int()
            let target = try r.int()
            for _ in 0..<(try r.count()) {
                DocumentEffects.transferRow(try r.transferRow(), status: status, source: source, target: target, into: &effects)
            }
            snapshot = Snapshot(key: DocumentKey(.stockTransfer, id), updatedAt: updatedAt)
        default:
            return nil
        }
        guard r.offset == bytes.count else { throw EventError(field: nil, "binary payload has \(bytes.count - r.offset) trailing bytes") }
        return snapshot
    }
}

extension BinaryPayload.Reader {
    /// Passes over a string as `string()` reads it, without making one.
    mutating func skipString() throws(EventError) {
        let n = try count()
        offset += n
    }

    mutating func skipOptionalString() throws(EventError) {
        if try byte() != 0 { try skipString() }
    }

    /// Whether the string here is `expected`, byte for byte. For lowercase ASCII letters that is
    /// what `==` on the decoded string says: no other bytes decode to a string canonically
    /// equivalent to them (decoding repairs invalid UTF-8 with U+FFFD, never with a letter).
    mutating func stringEquals(_ expected: StaticString) throws(EventError) -> Bool {
        let n = try count()
        defer { offset += n }
        guard n == expected.utf8CodeUnitCount else { return false }
        let actual = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
        return expected.withUTF8Buffer { $0.elementsEqual(actual) }
    }

    /// The instant of a timestamp, as `timestamp()` reads and checks it, without its text.
    mutating func timestampInstant() throws(EventError) -> Instant {
        try skipString()
        return try instant()
    }
}
