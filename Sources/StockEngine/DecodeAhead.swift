import Foundation
import StockDomain

/// Items produced on a second thread while the caller consumes them, in order.
///
/// The fold cannot start an event before the previous one is applied, but reading and decoding
/// the next events can: ingest parses JSON lines ahead, replay reads and decodes journal rows
/// and runs the document stage of the fold ahead, each on the machine's other core. Each item
/// is a batch of events, made by the producer; items pass through a small bounded queue, so
/// memory stays flat whatever the input's size, and order is kept, so the first bad line or row
/// is still the one reported.
final class DecodeAhead<Item: Sendable>: @unchecked Sendable {
    /// Thrown by a producer to end the stream after the items emitted so far.
    struct Finished: Error {}

    private enum Entry {
        case item(Item)
        case failed(EngineError)
        case end
    }

    private struct Cancelled: Error {}

    static var queueLimit: Int { 8 }

    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Entry] = []
    /// Consumed items, for the producer to free.
    private var returned: [Item] = []
    private var cancelled = false
    private var finished = false

    /// Starts `produce` on its own thread; it hands items to `emit` in order, each at once (a
    /// producer that may block, reading more of a pipe, emits what it holds first, so the
    /// consumer is never kept waiting for events already decoded). The caller must call
    /// `stop()` before releasing anything the producer uses (files, databases) that the
    /// producer does not own.
    init(_ produce: @escaping @Sendable (_ emit: (Item) throws -> Void) throws -> Void) {
        let thread = Thread { [self] in
            func emit(_ item: Item) throws {
                guard push(.item(item)) else { throw Cancelled() }
            }
            var last: Entry? = .end
            do {
                try produce(emit)
            } catch is Finished {
            } catch is Cancelled {
                last = nil
            } catch let error as EngineError {
                last = .failed(error)
            } catch {
                last = .failed(EngineError(.failure, "\(error)"))
            }
            if let last { _ = push(last) }
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    /// Calls `body` with every item in order; rethrows the producer's failure where it happened.
    func forEach(_ body: (Item) throws -> Void) throws {
        var spent: Item? = nil
        while true {
            switch next(returning: &spent) {
            case .item(let item):
                try body(item)
                spent = item
            case .failed(let error): throw error
            case .end: return
            }
        }
    }

    /// Stops the producer and waits until it no longer touches what it reads.
    func stop() {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    /// Takes the next entry, handing back the item consumed: it was allocated on the
    /// producer's thread, and freeing it there keeps that work (and malloc's arena lock) off
    /// the consumer, which in ingest is the busier of the two. (In replay the reading thread is
    /// the busier; freeing on the consumer there measured level, so one rule serves both.)
    private func next(returning spent: inout Item?) -> Entry {
        condition.lock()
        defer { condition.unlock() }
        if let item = spent {
            returned.append(item)
            spent = nil
        }
        while queue.isEmpty { condition.wait() }
        let entry = queue.removeFirst()
        condition.broadcast()
        return entry
    }

    /// Queues an entry, waiting while the queue is full; false once the consumer stopped.
    /// Frees the items the consumer handed back, outside the lock.
    private func push(_ entry: Entry) -> Bool {
        var spent: [Item] = []
        defer { spent.removeAll() }
        condition.lock()
        defer { condition.unlock() }
        swap(&spent, &returned)
        while queue.count >= DecodeAhead.queueLimit && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        queue.append(entry)
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
