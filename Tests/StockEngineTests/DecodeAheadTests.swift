import Foundation
@testable import StockEngine
import Testing

/// The hand-off between the thread that reads ahead (ingest's parser, replay's reader) and the
/// one that folds. Ingest and replay tests cover it end to end; these pin what they cannot see:
/// memory bounded whatever the input's length, and a stop that never hangs.
@Suite("DecodeAhead: ordered, bounded hand-off to a second thread")
struct DecodeAheadTests {
    /// A count shared with the producer's thread.
    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        private var ended = false
        var value: Int { lock.withLock { count } }
        var producerEnded: Bool { lock.withLock { ended } }
        func set(_ n: Int) { lock.withLock { count = n } }
        func end() { lock.withLock { ended = true } }

        /// Waits until the count reaches `n` or the producer ended; false after `seconds`
        /// (a liveness bound for a broken build, not a measurement).
        func wait(forAtLeast n: Int, seconds: Double = 30) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while value < n && !producerEnded {
                if Date() > deadline { return false }
                usleep(1_000)
            }
            return true
        }
    }

    struct Stop: Error {}

    @Test("items arrive in order, each once; a producer's error comes after the items emitted before it, as where it happened")
    func orderAndFailure() throws {
        let items = DecodeAhead<Int> { emit in
            for i in 0..<5_000 { try emit(i) }
            throw EngineError(.badInput, "bad line 5001")
        }
        defer { items.stop() }
        var seen: [Int] = []
        #expect {
            try items.forEach { seen.append($0) }
        } throws: { error in
            (error as? EngineError)?.message == "bad line 5001"
        }
        #expect(seen == Array(0..<5_000))

        let finished = DecodeAhead<Int> { emit in
            for i in 0..<3 { try emit(i) }
            throw DecodeAhead<Int>.Finished()
        }
        defer { finished.stop() }
        var rest: [Int] = []
        try finished.forEach { rest.append($0) }
        #expect(rest == [0, 1, 2], "Finished ends the stream without an error")
    }

    @Test("the producer runs at most a queue's length ahead of the consumer, however long the input: memory stays flat")
    func boundedAhead() throws {
        let produced = Counter()
        let total = 20_000
        let items = DecodeAhead<Int> { emit in
            defer { produced.end() }
            for i in 0..<total {
                produced.set(i + 1)
                try emit(i)
            }
        }
        defer { items.stop() }
        // Handling item k, the queue holds at most k+1 ... k+limit and the producer has made
        // one more, waiting for room.
        let bound = DecodeAhead<Int>.queueLimit + 2
        var overran: [(item: Int, produced: Int)] = []
        try items.forEach { k in
            if k == 0 {
                // Let the producer fill the queue and block, then give it time to run on if it
                // could: a bounded one cannot.
                #expect(produced.wait(forAtLeast: bound))
                usleep(50_000)
            }
            if produced.value > k + bound { overran.append((k, produced.value)) }
        }
        #expect(overran.isEmpty, "the producer ran ahead: \(overran.prefix(3))")
        #expect(produced.value == total)
    }

    @Test("stop() returns while the producer waits on a full queue, and the producer has ended by then (an ingest refused on its first line of a huge file)")
    func stopUnblocksProducer() throws {
        let produced = Counter()
        let items = DecodeAhead<Int> { emit in
            defer { produced.end() }
            var i = 0
            while true {
                produced.set(i + 1)
                try emit(i)
                i += 1
            }
        }
        #expect(throws: Stop.self) {
            try items.forEach { k in
                if k == 0 {
                    #expect(produced.wait(forAtLeast: DecodeAhead<Int>.queueLimit + 2))
                    throw Stop()
                }
            }
        }
        let stopped = DispatchSemaphore(value: 0)
        Thread { items.stop(); stopped.signal() }.start()
        #expect(stopped.wait(timeout: .now() + 30) == .success, "stop() hung on a producer blocked on a full queue")
        #expect(produced.producerEnded)
    }
}
