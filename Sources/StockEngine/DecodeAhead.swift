import Foundation
import StockDomain

/// Items produced on a second thread while the caller consumes them, in order.
///
/// The fold cannot start an event before the previous one is applied, but reading and decoding
/// the next events can: ingest parses JSON lines ahead, replay reads and decodes journal rows
/// and runs the document stage of the fold ahead, each on the machine's other core. Batches
/// pass through a small bounded queue, so memory stays flat whatever the input's size, and
/// order is kept, so the first bad line or row is still the one reported.
final class DecodeAhead<Item: Sendable>: @unchecked Sendable {
    /// Thrown by a producer to end the stream after the items emitted so far.
    struct Finished: Error {}

    private enum Batch {
        case items([Item])
        case failed(EngineError)
        case end
    }

    private struct Cancelled: Error {}

    static var queueLimit: Int { 8 }

    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Batch] = []
    /// Consumed batches, for the producer to free.
    private var returned: [[Item]] = []
    private var cancelled = false
    private var finished = false

    /// Starts `produce` on its own thread; it hands items to `emit` in order. The caller must
    /// call `stop()` before releasing anything the producer uses (files, databases) that the
    /// producer does not own.
    /// `flush` hands over a partial batch: a producer calls it before it may block (reading
    /// more of a pipe), so the consumer is never kept waiting for items already decoded.
    init(batchSize: Int, _ produce: @escaping @Sendable (_ emit: (Item) throws -> Void, _ flush: () throws -> Void) throws -> Void) {
        let thread = Thread { [self] in
            var batch: [Item] = []
            batch.reserveCapacity(batchSize)
            func flush() throws {
                guard !batch.isEmpty else { return }
                guard push(.items(batch)) else { throw Cancelled() }
                batch = []
                batch.reserveCapacity(batchSize)
            }
            func emit(_ item: Item) throws {
                batch.append(item)
                if batch.count == batchSize { try flush() }
            }
            var last: Batch? = .end
            do {
                try produce(emit, flush)
            } catch is Finished {
            } catch is Cancelled {
                last = nil
            } catch let error as EngineError {
                last = .failed(error)
            } catch {
                last = .failed(EngineError(.failure, "\(error)"))
            }
            if let last {
                if !batch.isEmpty { _ = push(.items(batch)) }
                _ = push(last)
            }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    /// Calls `body` with every item in order; rethrows the producer's failure where it happened.
    func forEach(_ body: (Item) throws -> Void) throws {
        var spent: [Item] = []
        while true {
            switch next(returning: &spent) {
            case .items(let items):
                for item in items { try body(item) }
                spent = items
            case .failed(let error): throw error
            case .end: return
            }
        }
    }

    /// Stops the producer and, when `waiting`, waits until it no longer touches what it reads.
    /// Not waiting is for a producer that owns its inputs and may be blocked on one that never
    /// ends (an open standard input): it stops at its next item and releases them itself.
    func stop(waiting: Bool = true) {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        while waiting && !finished { condition.wait() }
        condition.unlock()
    }

    /// Takes the next batch, handing back the one consumed: its items were allocated on the
    /// producer's thread, and freeing them there keeps that work (and malloc's arena lock) off
    /// the consumer, which is the busier of the two.
    private func next(returning spent: inout [Item]) -> Batch {
        condition.lock()
        defer { condition.unlock() }
        if !spent.isEmpty {
            returned.append(spent)
            spent = []
        }
        while queue.isEmpty { condition.wait() }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Queues a batch, waiting while the queue is full; false once the consumer stopped.
    /// Frees the batches the consumer handed back, outside the lock.
    private func push(_ batch: Batch) -> Bool {
        var spent: [[Item]] = []
        defer { spent.removeAll() }
        condition.lock()
        defer { condition.unlock() }
        swap(&spent, &returned)
        while queue.count >= DecodeAhead.queueLimit && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        queue.append(batch)
        condition.broadcast()
        return true
    }
}

/// A run of decoded lines of one `ingest` file, their payloads already in the journal's binary
/// encoding: the parsing thread has time to spare, the writing thread has none. A line that
/// failed to decode ends the run, and the call.
struct DecodedLines: Sendable {
    static let size = 512
    let source: String
    private(set) var events: [Event] = []
    /// Line numbers, one per event.
    private(set) var numbers: [Int] = []
    /// The events' binary payloads back to back; event `i`'s ends at `ends[i]`.
    private(set) var payloads: [UInt8] = []
    private var ends: [Int] = []
    var failure: (number: Int, error: EventError)?

    init(source: String) {
        self.source = source
        events.reserveCapacity(DecodedLines.size)
        numbers.reserveCapacity(DecodedLines.size)
        ends.reserveCapacity(DecodedLines.size)
        payloads.reserveCapacity(DecodedLines.size * 64)
    }

    var isEmpty: Bool { events.isEmpty && failure == nil }

    mutating func append(_ event: Event, number: Int) {
        events.append(event)
        numbers.append(number)
        BinaryPayload.append(event.payload, to: &payloads)
        ends.append(payloads.count)
    }

    /// Where event `i`'s payload lies in `payloads`.
    func payloadRange(_ i: Int) -> Range<Int> { (i == 0 ? 0 : ends[i - 1])..<ends[i] }
}
