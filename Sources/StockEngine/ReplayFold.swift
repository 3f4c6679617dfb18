import Foundation
import SQLite
import StockDomain

extension Journal {
    /// Folds journal events after `projection.position` through `last`, in two stages on two
    /// threads: a second connection reads the journal and runs the document ledger (stage one)
    /// ahead, folding document snapshots in place from their bytes and decoding the rest; this
    /// thread nets each document's reverted and added effects, moves the
    /// cells, fires the triggers and keeps the rest (stage two). The netting sits here to even
    /// the two stages out: without it the reading thread was busy throughout and this one idle
    /// half the time. WAL: the reader sees the committed journal, which the caller's
    /// transaction has not changed. The reading thread owns `documents` until it ends.
    func fold(into projection: inout Projection, documents: inout SQLiteDocuments, through last: Int64) throws {
        let (path, first) = (self.path, projection.position + 1)
        let start = LedgerStart(ledger: projection.ledger, documents: documents)
        let reconciliations = ReconciliationMailbox()
        let batches = DecodeAhead<FoldBatch> { emit in
            var ledger = start.ledger
            ledger.defersNetting = true
            ledger.deferred.reserveCapacity(FoldBatch.effectsCapacity)
            var documents = start.documents
            var batch = FoldBatch()
            do {
                let reader = try Database(path: path, mode: .readOnly)
                try reader.readTransaction {
                    let s = try Journal.rows(reader, from: first, through: last, withIdentity: false)
                    while try s.step() {
                        let position = s.int(0)
                        let start = ledger.deferred.count
                        do {
                            // Document snapshots, most of the journal, are read in place; the rest decoded.
                            var document = try s.withBytes(2) { try ledger.applyInPlace($0, at: position, documents: &documents) }
                            if !document {
                                let payload = try Journal.payload(s, path: path)
                                document = try ledger.apply(payload, at: position, documents: &documents)
                                if !document {
                                    batch.steps.append(.payload(position, batch.payloads.count))
                                    batch.payloads.append(payload)
                                }
                            }
                            if document {
                                batch.steps.append(.document(position, EffectRanges(start: start, split: ledger.deferredSplit, end: ledger.deferred.count)))
                            }
                        } catch let error as EventError {
                            batch.steps.append(.refused(position, error))
                            batch.takeEffects(from: &ledger)
                            try emit(batch)
                            throw DecodeAhead<FoldBatch>.Finished()
                        }
                        if batch.steps.count == FoldBatch.size {
                            batch.takeEffects(from: &ledger)
                            try emit(batch)
                            batch = FoldBatch()
                            try reconciliations.drain(into: &documents)
                        }
                    }
                }
                batch.takeEffects(from: &ledger)
                if !batch.steps.isEmpty { try emit(batch) }
            } catch let error as SQLiteError {
                throw EngineError.database(error, path: path)
            }
        }
        defer { batches.stop() }
        var mailbox = reconciliations
        var netting = CellNetting()
        var failed: (Int64, EventError)? = nil
        do {
            try batches.forEach { batch in
                try batch.effects.withUnsafeBytes { effects in
                    for step in batch.steps {
                        do {
                            switch step {
                            case .document(let position, let ranges):
                                netting.reset()
                                try netting.net(reverting: UnsafeRawBufferPointer(rebasing: effects[ranges.reverted]),
                                                adding: UnsafeRawBufferPointer(rebasing: effects[ranges.added]))
                                try projection.apply(netting.changes[...], at: position)
                            case .payload(let position, let index): try projection.apply(batch.payloads[index], at: position, documents: &mailbox)
                            case .refused(_, let error): throw error
                            }
                        } catch let error as EventError {
                            failed = (step.position, error)
                            throw DecodeAhead<FoldBatch>.Finished()
                        }
                    }
                }
            }
        } catch is DecodeAhead<FoldBatch>.Finished {}
        // The reading thread has ended (or ends now): the documents and the connection are ours again.
        batches.stop()
        if let (position, error) = failed {
            // The journal only holds events that applied once; failing now is a bug or tampering.
            let id = (try? event(at: position))?.id ?? "?"
            throw EngineError(.failure, "\(path): replay failed at position \(position) (\(id)): \(error)")
        }
        try reconciliations.drain(into: &documents)
    }
}

/// What the reading thread of `fold` hands the stock stage: a run of events, and the packed
/// effects of the document events among them copied into one array. Sharing the records'
/// own arrays instead meant two atomic reference counts per event on memory the other thread
/// had just written.
struct FoldBatch: Sendable {
    static let size = 1024
    static let effectsCapacity = size * 48
    var steps: [FoldStep] = []
    var effects: [UInt8] = []
    var payloads: [EventPayload] = []

    init() {
        steps.reserveCapacity(FoldBatch.size)
        payloads.reserveCapacity(FoldBatch.size / 2)
        effects.reserveCapacity(FoldBatch.effectsCapacity)
    }

    /// Takes the effects the ledger appended for this batch (its `deferred`), before the batch
    /// is sent; the ledger goes on into this batch's own empty, reserved array.
    mutating func takeEffects(from ledger: inout DocumentLedger) {
        swap(&effects, &ledger.deferred)
    }
}

/// Where a document event's reverted and added effects lie in its batch's `effects`.
struct EffectRanges: Sendable {
    var start, split, end: Int
    var reverted: Range<Int> { start..<split }
    var added: Range<Int> { split..<end }
}

/// One event of a `FoldBatch`, as far as the reading thread took it.
enum FoldStep: Sendable {
    /// Anything but a document event, for the stock stage to apply whole: its index in the
    /// batch's `payloads`. Kept apart, so that every step is a few words instead of the size of
    /// the largest payload (most steps are documents, and each crosses between the cores).
    case payload(Int64, Int)
    /// A document event the ledger applied: the effects it reverted and added, for the stock
    /// stage to net.
    case document(Int64, EffectRanges)
    /// A document event the ledger refused.
    case refused(Int64, EventError)

    var position: Int64 {
        switch self {
        case .payload(let p, _), .document(let p, _), .refused(let p, _): return p
        }
    }
}

/// The ledger and document store the reading thread of `fold` starts from. The store is handed
/// over, not shared: the caller does not touch it until that thread has ended.
fileprivate struct LedgerStart: @unchecked Sendable {
    let ledger: DocumentLedger
    let documents: SQLiteDocuments
}

/// Reconciliation records, which the stock stage writes (their correction depends on the
/// cells) while the reading thread owns the document store and its connection: they wait
/// here, a batch at most, until that thread or, at the end, the caller stores them.
final class ReconciliationMailbox: DocumentStore, @unchecked Sendable {
    private let lock = NSLock()
    private var records: [(DocumentKey, DocumentRecord)] = []

    func withRecord<R>(for key: DocumentKey, _ body: (inout DocumentRecord?) throws -> R) throws -> R {
        guard key.kind == .reconciliation else {
            throw EngineError(.failure, "internal: the stock stage asked for a document record (\(key.kind.label) \(key.id))")
        }
        var record: DocumentRecord? = nil
        let result = try body(&record)
        if let record { lock.withLock { records.append((key, record)) } }
        return result
    }

    func drain(into documents: inout SQLiteDocuments) throws {
        let taken = lock.withLock {
            defer { records.removeAll(keepingCapacity: true) }
            return records
        }
        for (key, record) in taken { try documents.withRecord(for: key) { $0 = record } }
    }
}
