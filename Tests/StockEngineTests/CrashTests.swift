import Foundation
import StockEngine
import StockSyncTesting
import Testing

/// SPEC §3.1: one ingest call is one transaction. A real `stocksync ingest` subprocess is
/// killed with SIGKILL at random moments, or runs out of disk; the journal never has a gap or
/// a half batch, and the inline projection always equals the replayed one.
@Suite("Crash safety: SIGKILL and a full disk", .serialized)
struct CrashTests {
    @Test("SIGKILL during ingest leaves whole batches only, no gaps, and replay --verify passes", arguments: Soak.seeds([7]))
    func killDuringIngest(seed: UInt64) throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: 99, shape: .init(variants: 300, locations: 3, stores: 2))
        let lines = generator.history(events: 24_000)
        let chunkSize = 6_000
        var chunks: [String] = []
        var boundaries: [Int64] = [0]
        for (i, start) in stride(from: 0, to: lines.count, by: chunkSize).enumerated() {
            let file = tmp.path("chunk\(i).jsonl")
            let part = lines[start..<min(lines.count, start + chunkSize)]
            try part.joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
            chunks.append(file)
        }
        let db = tmp.path("crash.db")
        // Learn each chunk's appended count (duplicates take no position) from a clean run.
        let reference = try Journal(path: tmp.path("reference.db"), writable: true)
        let started = Date()
        for file in chunks { boundaries.append(boundaries.last! + Int64(try reference.ingest([file]).appended)) }
        // Kill somewhere inside an ingest: delays are drawn within the measured duration of one.
        let perChunk = Date().timeIntervalSince(started) / Double(chunks.count)
        let window = UInt32(max(0.02, perChunk) * 1_000_000)

        var random = SeededRandom(seed: seed)
        var done = 0
        var kills = 0
        for _ in 0..<12 where done < chunks.count {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
            process.arguments = ["ingest", "--db", db, chunks[done]]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: window / 10...window, using: &random))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                kills += 1
            }
            process.waitUntilExit()
            guard FileManager.default.fileExists(atPath: db) else { continue }
            var opened: Journal? = nil
            do {
                opened = try Journal(path: db, writable: false)
            } catch {
                guard error.message.contains("database is empty") else { throw error }
            }
            guard let journal = opened else {
                // Killed before the first transaction created the schema: nothing was appended.
                #expect(done == 0)
                continue
            }
            let head = try journal.head()
            #expect(head == boundaries[done] || head == boundaries[done + 1], "head \(head) is not at a batch boundary")
            var count: Int64 = 0
            var gapFree = true
            try journal.forEachEvent { position, _ in count += 1; if position != count { gapFree = false } }
            #expect(gapFree && count == head, "positions are gap-free")
            #expect(try journal.verify().isEmpty)
            if head == boundaries[done + 1] { done += 1 }
        }
        #expect(kills > 0, "at least one ingest was killed mid-way")
        let journal = try Journal(path: db, writable: true)
        for file in chunks[done...] { _ = try journal.ingest([file]) }
        #expect(try journal.head() == boundaries.last!)
        #expect(try journal.verify().isEmpty)
    }

    @Test("a disk that fills during ingest: 74, nothing of the call appended, the journal whole; the same file ingests once there is room")
    func diskFullDuringIngest() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        var generator = HistoryGenerator(seed: 5, shape: .init(variants: 300, locations: 3, stores: 2))
        let lines = generator.history(events: 8_000)
        let (first, second) = (tmp.path("first.jsonl"), tmp.path("second.jsonl"))
        try lines[..<2_000].joined(separator: "\n").write(toFile: first, atomically: true, encoding: .utf8)
        try lines[2_000...].joined(separator: "\n").write(toFile: second, atomically: true, encoding: .utf8)
        let db = tmp.path("full.db")
        #expect(try CLI.run(["ingest", "--db", db, first]).status == 0)
        let head = try Journal(path: db, writable: false).head()
        let before = try CLI.run(["log", "--json", "--db", db]).stdout

        // Files may grow to 64 KiB: the second call's write-ahead log outgrows that at once.
        let full = try CLI.run(["ingest", "--db", db, second], fileSizeLimitKiB: 64)
        #expect(full.status == 74, "\(full.stderr)")
        #expect(full.stderr.contains(db), "the message names the database: \(full.stderr)")
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout == before, "nothing of the failed call was appended")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)

        let retried = try CLI.run(["ingest", "--db", db, second])
        #expect(retried.status == 0, "\(retried.stderr)")
        let journal = try Journal(path: db, writable: false)
        #expect(try journal.head() > head)
        #expect(try journal.verify().isEmpty)
    }

    @Test("a commit whose checkpoint into the main file fails is still whole: the write-ahead log keeps it until a later checkpoint")
    func checkpointFailsAfterCommit() throws {
        let tmp = TemporaryDirectory()
        defer { tmp.remove() }
        let (first, second) = (tmp.path("first.jsonl"), tmp.path("second.jsonl"))
        try CrashTests.paddedVariants(1...4_000).write(toFile: first, atomically: true, encoding: .utf8)
        try CrashTests.paddedVariants(5_001...9_000).write(toFile: second, atomically: true, encoding: .utf8)
        let db = tmp.path("s.db")
        #expect(try CLI.run(["ingest", "--db", db, first]).status == 0)
        // Room for the second call's log (about the size of the first file's data) but not for
        // the main file to grow by it: the commit lands, the checkpoint at close fails.
        let size = try FileManager.default.attributesOfItem(atPath: db)[.size] as? Int ?? 0
        let limited = try CLI.run(["ingest", "--db", db, second], fileSizeLimitKiB: size / 1024 + 512)
        #expect(limited.status == 0, "\(limited.stderr)")
        #expect(limited.stdout.hasPrefix("appended 4000, duplicates 0"))
        #expect(FileManager.default.fileExists(atPath: db + "-wal"), "the log holds the commit")
        #expect(try CLI.run(["log", "--db", db]).stdout.split(separator: "\n").count == 8_000)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        #expect(try CLI.run(["ingest", "--db", db, second]).stdout.hasPrefix("appended 0, duplicates 4000"))
        #expect(try SQLiteFixture(path: db).strings("PRAGMA integrity_check") == ["ok"])
    }

    /// Variant declarations with long SKUs: a journal of predictable size, about 1 KB an event.
    static func paddedVariants(_ ids: ClosedRange<Int>) -> String {
        let padding = String(repeating: "x", count: 400)
        return ids.map { #"{"id":"v\#($0)","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":\#($0),"sku":"SKU-\#($0)-\#(padding)","kind":"product"}}"# }
            .joined(separator: "\n")
    }
}
