import Foundation
import StockDomain

/// The lines of an `ingest` call, decoded on a second thread while the caller appends them.
///
/// Parsing JSON is about a fifth of an ingest's time and the fold cannot start an event before
/// the previous one is applied, so decoding ahead on the other core is nearly free throughput.
/// Batches pass through a small bounded queue (memory stays flat whatever the file size) and
/// keep their order, so errors are still reported for the first bad line, with file and line.
final class DecodedLines: @unchecked Sendable {
    struct Line: Sendable {
        let source: String
        let number: Int
        let result: Result<Event, EventError>
    }

    enum Batch: Sendable {
        case lines([Line])
        case failed(EngineError)
        case end
    }

    static let batchSize = 512
    static let queueLimit = 8

    // All mutable state below is guarded by `condition`.
    private let condition = NSCondition()
    private var queue: [Batch] = []
    private var cancelled = false
    private var finished = false

    /// Starts decoding `readers` in order. The caller closes them only after `stop()`.
    init(readers: [LineReader]) {
        let thread = Thread { [self] in
            produce(readers)
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }
        thread.start()
    }

    /// The next batch, in file and line order; blocks until the decoder has one.
    func next() -> Batch {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty { condition.wait() }
        let batch = queue.removeFirst()
        condition.broadcast()
        return batch
    }

    /// Stops the decoder and waits until it no longer touches the files.
    func stop() {
        condition.lock()
        cancelled = true
        queue.removeAll()
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }

    private struct Cancelled: Error {}

    private func produce(_ readers: [LineReader]) {
        var batch: [Line] = []
        batch.reserveCapacity(DecodedLines.batchSize)
        do {
            for reader in readers {
                try reader.forEachLine { line, number in
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                    let result: Result<Event, EventError>
                    do throws(EventError) { result = .success(try EventCodec.decodeLine(line)) } catch { result = .failure(error) }
                    batch.append(Line(source: reader.name, number: number, result: result))
                    if case .failure = result {
                        // The call fails at this line at the latest: nothing after it is needed.
                        _ = push(.lines(batch))
                        throw Cancelled()
                    }
                    if batch.count == DecodedLines.batchSize {
                        guard push(.lines(batch)) else { throw Cancelled() }
                        batch = []
                        batch.reserveCapacity(DecodedLines.batchSize)
                    }
                }
            }
            if !batch.isEmpty { _ = push(.lines(batch)) }
            _ = push(.end)
        } catch let error as EngineError {
            _ = push(.failed(error))
        } catch {
            // Cancelled: the consumer has what it needs.
        }
    }

    /// Queues a batch, waiting while the queue is full; false once the consumer stopped.
    private func push(_ batch: Batch) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= DecodedLines.queueLimit && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        queue.append(batch)
        condition.broadcast()
        return true
    }
}
