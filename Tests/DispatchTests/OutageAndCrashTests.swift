import Foundation
import StockDomain
import StockEngine
import StockSyncService
import StockSyncTesting
import Testing
import WooCommerce
import WooCommerceSandbox

@Suite("Outages and crashes (SPEC §4, §5)", .serialized)
struct OutageAndCrashTests {
    static func catalogue(_ n: Int) -> String {
        "[" + (1...n).map { #"{"id":\#($0 + 1000),"sku":"P\#($0)","manage_stock":true,"stock_quantity":0}"# }.joined(separator: ",") + "]"
    }

    @Test("10,000 changes to 500 products during an outage: one update per product afterwards, each the latest value")
    func outage() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: Self.catalogue(500))
            _ = try await h.refresh("main")
            try h.ingest((1...500).map { variantLine($0, "P\($0)") })
            let server = h.servers["main"]!
            server.setFaults(try FaultPlan(parsing: "status=503"))
            var random = SeededRandom(seed: 5)
            for chunk in 0..<20 {
                try h.ingest((0..<500).map { i in adjustmentLine(chunk * 500 + i, Int.random(in: 1...500, using: &random), Int.random(in: -3...9, using: &random)) })
                if chunk == 10 { server.setFaults(try FaultPlan(parsing: "drop=1")) }
                let code = try await h.syncOnce()
                #expect(code == 75, "entries wait for a retry while the store is down")
                try await Task.sleep(nanoseconds: 30_000_000)
            }
            let pending = try h.journal.state().projection.pending.count
            #expect(pending > 400, "the outbox coalesced 10,000 changes into one entry per product")
            server.setFaults(FaultPlan())
            server.clearRequests()
            #expect(try await h.syncUntilDone() == 0)
            let updates = server.requests().filter { $0.method == "POST" && $0.status == 200 }.reduce(0) { $0 + $1.items }
            let expected = try h.expected("main")
            #expect(updates == pending, "exactly one update per product after recovery")
            let held = h.held("main")
            for (id, value) in expected { #expect(held[id] == value, "product \(id)") }
        }
    }

    @Test("SIGKILL of `stocksync sync` mid-batch, many times: no product ends wrong, no entry is lost", arguments: Soak.seeds([11]))
    func crashDuringSync(seed: UInt64) async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: Self.catalogue(400))
            _ = try await h.refresh("main")
            try h.ingest((1...400).map { variantLine($0, "P\($0)") } + (1...400).map { reconcileLine($0, 1, String($0 % 17)) })
            let server = h.servers["main"]!
            // Slow answers so kills land while requests are in flight.
            server.setFaults(try FaultPlan(parsing: "latency-ms=300"))
            let credentials = h.tmp.path("credentials.json")
            try #"{"stores":{"main":{"consumer_key":"ck_main","consumer_secret":"cs_main","requests_per_second":1000,"max_in_flight":1}}}"#
                .write(toFile: credentials, atomically: true, encoding: .utf8)
            chmod(credentials, 0o600)
            var random = SeededRandom(seed: seed)
            var kills = 0
            for round in 0..<10 {
                try h.ingest((1...60).map { i in adjustmentLine(10_000 + round * 100 + i, Int.random(in: 1...400, using: &random), Int.random(in: -2...5, using: &random)) })
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
                process.arguments = ["sync", "--once", "--db", h.tmp.path("h.db"), "--credentials", credentials, "--retry-first", "0.05", "--retry-max", "0.1"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                try await Task.sleep(nanoseconds: UInt64.random(in: 50_000_000...250_000_000, using: &random))
                if process.isRunning { kill(process.processIdentifier, SIGKILL); kills += 1 }
                process.waitUntilExit()
            }
            #expect(kills > 0)
            server.setFaults(FaultPlan())
            #expect(try await h.syncUntilDone() == 0)
            let held = h.held("main")
            for (id, value) in try h.expected("main") { #expect(held[id] == value, "product \(id)") }
            #expect(try h.journal.verify().isEmpty)
        }
    }

    /// The window `sync` can die in: the store saved the value, the answer was never recorded.
    /// If the value then goes back to what the journal believes the store holds, nothing is
    /// pending any more, yet the store holds the lost value: only the in-flight mark tells.
    @Test("§5 recovery: a push whose answer was never recorded is sent again, even after the value went back to the held one")
    func interruptedPushIsRepaired() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":101,"sku":"P1","manage_stock":true,"stock_quantity":0}]"#)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "P1"), reconcileLine(1, 1, "10")])
            #expect(try await h.syncOnce() == 0)
            try h.ingest([adjustmentLine(1, 1, 1)])
            // What a killed `sync` leaves: the mark, and the store holding 11.
            try h.journal.markInFlight(store: "main", [(wooID: 101, sent: 11)])
            h.servers["main"]!.edit(101) { $0.stockQuantity = 11 }
            try h.ingest([#"{"id":"undo","type":"stock_adjustment.deleted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":1}}"#])
            #expect(try h.journal.state().projection.pending.isEmpty, "rule 11: back to the held 10")
            #expect(try await h.syncOnce() == 0)
            #expect(h.held("main")[101] == 10)
            #expect(try h.journal.inFlight(store: "main").isEmpty)
        }
    }
}
