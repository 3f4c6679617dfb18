import StockSyncTesting
import Testing

/// `STOCKSYNC_SOAK`: how the randomized tests widen their seeds for a deeper run.
@Suite("Soak seeds (STOCKSYNC_SOAK)")
struct SoakTests {
    @Test("a factor N runs N times the seeds, the new ones after the given; 1 runs the given alone")
    func widening() {
        #expect(Soak.seeds([1, 2, 3, 4], factor: 1) == [1, 2, 3, 4])
        #expect(Soak.seeds([1, 2, 3, 4], factor: 3) == Array(1...12))
        #expect(Soak.seeds([7], factor: 3) == [7, 8, 9])
    }

    @Test("unset means 1; anything but a whole number from 1 to 1000 is refused, naming the variable and its value")
    func setting() {
        #expect(Soak.factor([:]) == .success(1))
        #expect(Soak.factor(["STOCKSYNC_SOAK": "20"]) == .success(20))
        for bad in ["0", "-2", "x", "2.5", "1001", ""] {
            guard case .failure(let error) = Soak.factor(["STOCKSYNC_SOAK": bad]) else {
                Issue.record("STOCKSYNC_SOAK=\(bad) was taken")
                continue
            }
            #expect(error.message.contains("STOCKSYNC_SOAK=\(bad):"))
        }
    }

    /// A mistyped value would otherwise run the usual seeds alone, and pass unnoticed.
    @Test("this run's STOCKSYNC_SOAK, if set, is a factor")
    func thisRun() throws {
        _ = try Soak.factor().get()
    }
}
