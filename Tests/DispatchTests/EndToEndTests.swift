import Foundation
import StockDomain
import StockEngine
import StockSyncService
import StockSyncTesting
import Testing
import WooCommerce
import WooCommerceSandbox

@Suite("Engine ↔ sandbox over loopback HTTP (SPEC §2.5, §4)", .serialized)
struct EndToEndTests {
    static let mainSeed = """
    [{"id":20,"sku":"DUP","manage_stock":true,"stock_quantity":1,"date_created_gmt":"2025-01-01T00:00:00"},
     {"id":21,"sku":"DUP","manage_stock":true,"stock_quantity":1,"date_created_gmt":"2025-06-01T00:00:00"},
     {"id":22,"sku":"OLD-CODE","manage_stock":true,"stock_quantity":1},
     {"id":23,"sku":"case","manage_stock":true,"stock_quantity":1},
     {"id":24,"sku":"SIMPLE","manage_stock":false},
     {"id":30,"sku":"SHIRT","type":"variable","manage_stock":false,"variations":[
        {"id":31,"sku":"SHIRT-S","manage_stock":true,"stock_quantity":1},{"id":32,"sku":"SHIRT-M","manage_stock":true,"stock_quantity":1}]}]
    """

    @Test("every matching rule, variations, unmanaged products, two stores, sync off and opt-out, end to end")
    func matchingEndToEnd() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: Self.mainSeed)
            try await h.addStore("outlet", seed: #"[{"id":50,"sku":"DUP","manage_stock":true,"stock_quantity":0}]"#, reduce: false)
            try await h.addStore("test", seed: #"[{"id":60,"sku":"DUP","manage_stock":true,"stock_quantity":9}]"#, stockSync: false)
            _ = try await h.refresh("main"); _ = try await h.refresh("outlet"); _ = try await h.refresh("test")
            try h.ingest([
                variantLine(1, "DUP"), variantLine(2, "NEW-CODE", links: [("main", 22)]), variantLine(3, "CASE"),
                variantLine(4, "SIMPLE"), variantLine(5, "SHIRT-S"), variantLine(6, "SHIRT-M"),
                reconcileLine(1, 1, "10"), reconcileLine(2, 1, "7"), reconcileLine(3, 1, "3"), reconcileLine(4, 1, "4"),
                reconcileLine(5, 1, "2.5"), reconcileLine(6, 1, "6"),
                salesLine(100, 1, 3, source: "katana"), salesLine(101, 1, 1, source: "woocommerce"),
            ])
            #expect(try await h.syncOnce() == 0)
            let main = h.held("main")
            #expect(main[21] == 6, "latest date_created wins: 10 − 4")
            #expect(main[20] == 1, "the older duplicate is untouched")
            #expect(main[22] == 7, "WooCommerce-id fallback")
            #expect(main[23] == 1, "SKUs are case-sensitive: 'CASE' does not match 'case'")
            #expect(main[24] == 4, "an unmanaged product becomes managed (Katana is the source of truth)")
            #expect(main[31] == 2 && main[32] == 6, "variations, through the variations batch")
            #expect(h.held("outlet")[50] == 9, "the opt-out store counts only the WooCommerce order: 10 − 1")
            #expect(h.held("test")[60] == 9, "stock sync off: nothing pushed")
            #expect(try h.journal.state().projection.pending.isEmpty)
            let requests = h.servers["main"]!.requests().filter { $0.method == "POST" }
            #expect(requests.map(\.path).sorted() == ["/wp-json/wc/v3/products/30/variations/batch", "/wp-json/wc/v3/products/batch"])
            // A refresh afterwards changes nothing, and nothing is re-pushed.
            let again = try await h.refresh("main")
            #expect(again.upserted == 0 && again.deleted == 0)
            #expect(try await h.syncOnce() == 0)
            #expect(h.servers["main"]!.requests().filter { $0.method == "POST" }.count == 2)
        }
    }

    @Test("the running dispatcher reports a store when it sent something or its state changed: the idle rounds after a send are no news")
    func daemonReportsNews() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true}]"#)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "A"), reconcileLine(1, 1, "4")])
            let rounds = Tally()
            var reported: [StoreRound] = []
            // The store list is asked for once per round, as it begins: the loop ends before a
            // fourth, after one round that sends and two idle ones.
            try await h.dispatcher().run(stores: { rounds.add(); return ["main"] }, shouldStop: { rounds.value >= 3 }) { reported.append($0) }
            #expect(rounds.value == 3)
            #expect(reported.map(\.sent) == [1], "one report, of the send: \(reported.map { "\($0.state) sent \($0.sent)" })")
            #expect(h.held("main")[10] == 4)
        }
    }

    @Test("§4 the running dispatcher wakes for another process's write instead of waiting out its idle time")
    func daemonWakesOnOthersWrites() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true}]"#)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "A")])
            let other = try Journal(path: h.tmp.path("h.db"), writable: true)
            let waits = Tally()
            let d = h.dispatcher()
            d.idleWait = 3_600
            // The first wait begins after an idle round; another connection then appends a change.
            // Woken by it, the daemon sends it and waits again, which ends the run.
            d.whileIdle = { if waits.add() == 1 { try? h.ingest([reconcileLine(1, 1, "4")], through: other) } }
            // Only a bound for a failing run, which would otherwise wait out its hour.
            let giveUp = Date().addingTimeInterval(60)
            try await d.run(stores: { ["main"] }, shouldStop: { waits.value >= 2 || Date() > giveUp }) { _ in }
            #expect(try h.journal.head() > 3, "the other connection appended")
            #expect(h.held("main")[10] == 4, "the change was sent while the daemon's idle hour had hardly begun")
            #expect(waits.value == 2)
        }
    }

    @Test("a product deleted in WooCommerce: its item fails, the rest of the batch completes, the product leaves the catalogue")
    func deletedProduct() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true},{"id":11,"sku":"B","manage_stock":true},{"id":12,"sku":"C","manage_stock":true}]"#)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "A"), variantLine(2, "B"), variantLine(3, "C")])
            let c = RawClient(server: h.servers["main"]!, http: h.http)
            _ = c // the sandbox is changed directly, as a merchant in wp-admin would
            h.servers["main"]!.edit(11) { $0.sku = "B" }
            try await deleteProduct(h, 11)
            try h.ingest([reconcileLine(1, 1, "5"), reconcileLine(2, 1, "6"), reconcileLine(3, 1, "7")])
            #expect(try await h.syncOnce() == 0)
            #expect(h.held("main")[10] == 5 && h.held("main")[12] == 7)
            let p = try h.journal.state().projection
            #expect(p.catalogue[ProductKey("main", 11)] == nil)
            #expect(p.pending.isEmpty)
            let log = try h.journal.deliveries(store: "main")
            #expect(log.contains { $0.wooID == 11 && $0.errorCode == "woocommerce_rest_product_invalid_id" })
            #expect(log.filter { $0.echoed != nil }.count == 2)
        }
    }

    @Test("refresh stops at the first empty page, whatever X-WP-TotalPages says (a stale cache, a plugin)")
    func refreshStopsAtEmptyPage() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true},{"id":11,"sku":"B","type":"variable","variations":[{"id":12,"sku":"B-1"}]}]"#)
            let server = h.servers["main"]!
            server.setFaults(try FaultPlan(parsing: "total-pages=50"))
            let report = try await h.refresh("main")
            #expect(report.products == 2 && report.variations == 1)
            let listings = server.requests().filter { $0.method == "GET" && ($0.path.hasSuffix("/products") || $0.path.hasSuffix("/variations")) }
            #expect(listings.count == 4, "a page with items and an empty one, for the products and for the variations: \(listings.map(\.path))")
        }
    }

    @Test("refresh sends a request again after a passing failure (503, a dropped connection, 429), up to 5 sends; a refusal is not retried, nor is a Retry-After beyond the longest wait; nothing is recorded until the whole catalogue is read")
    func refreshRetriesPassingFailures() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true},{"id":11,"sku":"B","type":"variable","variations":[{"id":12,"sku":"B-1"}]}]"#)
            let server = h.servers["main"]!
            var said = DispatchHarness.Said()
            server.setFaults(try FaultPlan(parsing: "status=503,count=3"))
            let report = try await h.refresh("main", said: said)
            #expect(report.products == 2 && report.variations == 1 && report.upserted == 3)
            #expect(said.lines.count == 3 && said.lines.allSatisfy { $0.hasPrefix("products page 1: HTTP 503") }, "\(said.lines)")
            #expect(said.lines.last?.contains("(retry 3 of 4)") == true, "\(said.lines)")

            said = DispatchHarness.Said()
            server.setFaults(try FaultPlan(parsing: "drop=1,count=1"))
            #expect(try await h.refresh("main", said: said).upserted == 0)
            #expect(said.lines.count == 1 && said.lines[0].contains("no answer"), "\(said.lines)")
            said = DispatchHarness.Said()
            server.setFaults(try FaultPlan(parsing: "status=429,retry-after=0,count=1"))
            #expect(try await h.refresh("main", said: said).upserted == 0)
            #expect(said.lines.count == 1 && said.lines[0].contains("HTTP 429"), "a rate limit passes: \(said.lines)")

            let head = try h.journal.head()
            func failure(_ faults: String) async throws -> (EngineError?, [String]) {
                server.setFaults(try FaultPlan(parsing: faults))
                let said = DispatchHarness.Said()
                do { _ = try await h.refresh("main", said: said) } catch let e as EngineError { return (e, said.lines) }
                return (nil, said.lines)
            }
            let (lasting, retries) = try await failure("status=503,count=5")
            #expect(lasting?.kind == .temporary && retries.count == 4, "\(retries)")
            #expect(lasting?.message.contains("5 times in a row; nothing was recorded") == true, "\(String(describing: lasting))")
            let (refused, none) = try await failure("status=401,count=1")
            #expect(refused?.kind == .configuration && none.isEmpty)
            let (busy, notWaited) = try await failure("status=429,retry-after=3600,count=1")
            #expect(busy?.kind == .temporary && notWaited.isEmpty)
            #expect(busy?.message.contains("asks (Retry-After) to wait 3600 s") == true, "\(String(describing: busy))")
            #expect(try h.journal.head() == head, "a failed refresh records nothing")

            // A store that is down (its open connections closed too): each send fails at once,
            // the client not retrying the connection behind the backoff's back, and is said as
            // refused, not as NIO's "reset".
            #expect(!WooClient.httpConfiguration().connectionPool.retryConnectionEstablishment)
            try await server.shutdown()
            let (down, tries) = try await failure("")
            #expect(down?.kind == .temporary && tries.count == 4, "\(String(describing: down)) \(tries)")
            // The first send may still meet a kept-alive connection as it closes; the rest are refused.
            #expect(tries.allSatisfy { $0.contains("no answer: ") }, "\(tries)")
            #expect(tries.dropFirst().allSatisfy { $0.contains("no answer: connection refused (nothing answers at the store's address") }, "\(tries)")
            #expect(down?.message.contains("connection refused (nothing answers at the store's address") == true, "\(String(describing: down))")
        }
    }

    @Test("refresh: a product missing from the pages is confirmed with a GET — kept if it exists, deleted if it is gone or in the trash")
    func refreshConfirmsMissingProducts() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true},{"id":11,"sku":"B","manage_stock":true},{"id":12,"sku":"C","manage_stock":true}]"#)
            _ = try await h.refresh("main")
            let server = h.servers["main"]!
            server.setFaults(try FaultPlan(parsing: "hide=10,hide=11"))
            try await deleteProduct(h, 11)
            // Moved to the trash (a delete without force, as wp-admin does): GET still finds it.
            let client = WooClient(storeURL: server.url, credentials: h.keys["main"]!, http: h.http)
            _ = try await client.send(.DELETE, "/products/12")
            #expect(try await client.send(.GET, "/products/12").status == 200)
            let report = try await h.refresh("main")
            #expect(report.deleted == 2 && report.upserted == 0)
            let catalogue = try h.journal.state().projection.catalogue
            #expect(catalogue[ProductKey("main", 10)] != nil, "skipped by paging but confirmed by GET: kept")
            #expect(catalogue[ProductKey("main", 11)] == nil, "gone: deleted")
            #expect(catalogue[ProductKey("main", 12)] == nil, "in the trash: deleted")
            #expect(server.requests().contains { $0.method == "GET" && $0.path.hasSuffix("/products/10") })
        }
    }

    @Test("refresh: a variable product deleted after its page was read (its variations answer 404 invalid id) is gone with its variations, and the rest of the read is recorded")
    func refreshSurvivesParentDeletedMidway() async throws {
        try await withHarness { h in
            try await Self.twoVariableProducts(h)
            let server = h.servers["main"]!
            // The merchant deletes product 300 while the refresh reads: after the products' pages,
            // before 300's variations are listed (one listing at a time, 300 first).
            let report = try await CatalogueRefresh.run(store: "main", journal: h.journal, credentials: h.keys["main"]!, http: h.http,
                                                        progress: { if $0.hasPrefix("products page") { server.delete(300) } })
            #expect(report.deleted == 3 && report.upserted == 0, "300, 301 and 302 deleted, nothing else changed")
            let catalogue = try h.journal.state().projection.catalogue
            #expect(catalogue.keys.map(\.wooID).sorted() == [400, 401])
            #expect(report.variations == 1)
        }
    }

    func deleteProduct(_ h: DispatchHarness, _ id: Int64) async throws {
        let server = h.servers["main"]!
        let client = WooClient(storeURL: server.url, credentials: h.keys["main"]!, http: h.http)
        _ = try await client.send(.DELETE, "/products/\(id)", query: [("force", "true")])
    }

    @Test("401 pauses only that store, until its credentials change")
    func unauthorizedPausesOneStore() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true}]"#)
            try await h.addStore("eu", location: 2, seed: #"[{"id":10,"sku":"A","manage_stock":true}]"#)
            _ = try await h.refresh("main"); _ = try await h.refresh("eu")
            try h.ingest([variantLine(1, "A"), reconcileLine(1, 1, "3"), reconcileLine(1, 2, "4")])
            let good = h.keys["eu"]!
            h.keys["eu"] = Credentials(consumerKey: "ck_eu", consumerSecret: "wrong", requestsPerSecond: 1000)
            #expect(try await h.syncOnce() == 77)
            #expect(h.held("main")[10] == 3)
            #expect(h.held("eu")[10] == 0)
            #expect(try h.journal.storeStatus("eu").pausedReason?.contains("401") == true)
            #expect(try h.journal.storeStatus("main").pausedReason == nil)
            let before = h.servers["eu"]!.requests().count
            #expect(try await h.syncOnce() == 77)
            #expect(h.servers["eu"]!.requests().count == before, "a paused store is not contacted")
            h.keys["eu"] = good
            #expect(try await h.syncOnce() == 0)
            #expect(h.held("eu")[10] == 4)
        }
    }

    /// Store a-big (location 1) with 300 products to update in three batches, two requests a
    /// second, one at a time, so they leave half a second apart; store b-small (location 2)
    /// with one product, given `smallUpdate` as its new stock if any.
    static func bigAndSmall(_ h: DispatchHarness, smallUpdate: String?) async throws {
        let big = (1...300).map { #"{"id":\#(1000 + $0),"sku":"S\#($0)","manage_stock":true,"stock_quantity":0}"# }
        try await h.addStore("a-big", seed: "[" + big.joined(separator: ",") + "]")
        try await h.addStore("b-small", location: 2, seed: #"[{"id":10,"sku":"S1","manage_stock":true}]"#)
        _ = try await h.refresh("a-big"); _ = try await h.refresh("b-small")
        try h.ingest((1...300).map { variantLine($0, "S\($0)") } + (1...300).map { reconcileLine($0, 1, "5") }
                     + (smallUpdate.map { [reconcileLine(1, 2, $0)] } ?? []))
        h.keys["a-big"] = Credentials(consumerKey: "ck_a-big", consumerSecret: "cs_a-big", requestsPerSecond: 2, maxInFlight: 1)
    }

    @Test("stores progress independently: a store draining three rate-limited batches does not hold back another store's update")
    func storesDoNotWaitForEachOther() async throws {
        try await withHarness { h in
            try await Self.bigAndSmall(h, smallUpdate: "9")
            #expect(try await h.syncOnce() == 0)
            var acknowledged: [StoreID: [Int64]] = [:]
            try h.journal.forEachEvent { position, event in
                if case .wooStockAcknowledged(let ack) = event.payload { acknowledged[ack.store, default: []].append(position) }
            }
            #expect(acknowledged["a-big"]?.count == 300 && acknowledged["b-small"]?.count == 1)
            // Taken one store after the other, b-small's update would wait for all of a-big's.
            #expect(acknowledged["b-small"]![0] < acknowledged["a-big"]!.max()!, "b-small's update was recorded before a-big finished")
            #expect(h.held("b-small")[10] == 9 && h.held("a-big")[1300] == 5)
        }
    }

    @Test("a store with nothing (left) to send takes updates another process appends while a second store is still draining, in the same round")
    func idleStoreTakesNewUpdatesWithinRound() async throws {
        try await withHarness { h in
            try await Self.bigAndSmall(h, smallUpdate: nil)
            // Ingests through another connection, as another process would: after a-big's first
            // wave (b-small idle), and after its second (b-small done with the first update).
            let other = try Journal(path: h.journal.path, writable: true)
            var updates: [String] = []
            for (n, quantity) in ["9", "4"].enumerated() {
                updates.append(h.tmp.path("update\(n).jsonl"))
                try reconcileLine(1, 2, quantity).write(toFile: updates[n], atomically: true, encoding: .utf8)
            }
            let dispatcher = h.dispatcher()
            var waves = 0
            dispatcher.afterWave = { store in
                guard store == "a-big", waves < updates.count else { return }
                _ = try? other.ingest([updates[waves]])
                waves += 1
            }
            let rounds = try await dispatcher.round(stores: ["a-big", "b-small"])
            #expect(waves == 2)
            #expect(h.held("b-small")[10] == 4, "b-small sent both new values in this round")
            #expect(rounds.first { $0.store == "b-small" }?.acknowledged == 2)
            #expect(rounds.first { $0.store == "a-big" }?.acknowledged == 300)
            #expect(try h.journal.state().projection.pending.isEmpty)
        }
    }

    @Test("a draining store remakes its remaining batches when others write to the journal: a changed value goes out fresh, never stale")
    func drainingStoreSendsFreshValues() async throws {
        try await withHarness { h in
            try await Self.bigAndSmall(h, smallUpdate: nil)
            let other = try Journal(path: h.journal.path, writable: true)
            let changed = h.tmp.path("changed.jsonl")
            // Variant 300 feeds product 1300, in a-big's last batch.
            try reconcileLine(300, 1, "8").write(toFile: changed, atomically: true, encoding: .utf8)
            let dispatcher = h.dispatcher()
            var waves = 0
            dispatcher.afterWave = { store in
                guard store == "a-big" else { return }
                waves += 1
                if waves == 1 { _ = try? other.ingest([changed]) }
            }
            let rounds = try await dispatcher.round(stores: ["a-big", "b-small"])
            #expect(rounds.first { $0.store == "a-big" }?.acknowledged == 300)
            #expect(h.held("a-big")[1300] == 8)
            let sent = try h.journal.deliveries(store: "a-big", wooIDs: [1300]).map(\.sent)
            #expect(sent == [8], "product 1300 was sent its new value once, never the stale 5")
            #expect(try h.journal.state().projection.pending.isEmpty)
        }
    }

    @Test("a draining store whose sync is turned off meanwhile receives nothing more")
    func drainingStoreStopsWhenSyncIsOff() async throws {
        try await withHarness { h in
            try await Self.bigAndSmall(h, smallUpdate: nil)
            let other = try Journal(path: h.journal.path, writable: true)
            let dispatcher = h.dispatcher()
            var turnedOff = false
            dispatcher.afterWave = { store in
                guard store == "a-big", !turnedOff else { return }
                turnedOff = true
                _ = try? other.append([Event(id: "off", at: "2026-11-26T10:00:00Z", payload: .storeReconfigured(StoreChange(store: "a-big", stockSync: false)))])
            }
            _ = try await dispatcher.round(stores: ["a-big", "b-small"])
            #expect(turnedOff)
            #expect(h.servers["a-big"]!.requests().filter { $0.method == "POST" }.count == 1, "only the batch already sent")
            #expect(try h.journal.state().projection.pending.isEmpty, "turning sync off dropped what was left")
        }
    }

    @Test("Retry-After is delay-seconds or an HTTP date; one that is neither, infinite or negative asks nothing, and more than a day is held to a day")
    func retryAfterValues() {
        let now = Date(timeIntervalSince1970: 1_700_000_000) // Tue, 14 Nov 2023 22:13:20 GMT
        #expect(WooClient.retryAfter("120", now: now) == 120)
        #expect(WooClient.retryAfter(" 7 ", now: now) == 7)
        #expect(WooClient.retryAfter("Tue, 14 Nov 2023 22:15:20 GMT", now: now) == 120)
        #expect(WooClient.retryAfter("Tue, 14 Nov 2023 22:00:00 GMT", now: now) == 0, "a date passed already: no wait")
        for bad: String? in ["inf", "nan", "-5", "soon", "", nil] {
            #expect(WooClient.retryAfter(bad, now: now) == nil, "\(bad ?? "nil")")
        }
        // A huge value once trapped converting the wait to microseconds.
        #expect(RetryPolicy(firstDelay: 1, maxDelay: 300).delay(failures: 1, retryAfter: 1e300) == RetryPolicy.longestRetryAfter)
    }

    @Test("429 with Retry-After is honoured: the retry comes no earlier than the store asked")
    func retryAfter() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"A","manage_stock":true}]"#)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "A"), reconcileLine(1, 1, "3")])
            h.servers["main"]!.clearRequests()
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "status=429,count=1,retry-after=1"))
            #expect(try await h.syncOnce() == 75)
            #expect(try await h.syncUntilDone() == 0)
            let posts = h.servers["main"]!.requests().filter { $0.method == "POST" }
            #expect(posts.count == 2)
            #expect(posts[0].status == 429 && posts[1].status == 200)
            #expect(posts[1].at.timeIntervalSince(posts[0].at) >= 1.0)
            #expect(h.held("main")[10] == 3)
        }
    }

    @Test("requests_per_second: each request starts an interval after the one before, idle time is not banked; refresh keeps the rate too, and sync across rounds")
    func requestPace() async throws {
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        var pace = RequestPace(requestsPerSecond: 4, from: t0)
        #expect(pace.start(now: t0) == t0)
        #expect(pace.start(now: t0) == t0.addingTimeInterval(0.25), "asked at once: the next slot")
        #expect(pace.start(now: t0.addingTimeInterval(0.3)) == t0.addingTimeInterval(0.5))
        #expect(pace.start(now: t0.addingTimeInterval(5)) == t0.addingTimeInterval(5), "after a pause: now, no burst of saved slots")
        #expect(pace.start(now: t0.addingTimeInterval(5)) == t0.addingTimeInterval(5.25))
        try await withHarness { h in
            try await h.addStore("main", seed: #"[{"id":10,"sku":"B","type":"variable","variations":[{"id":11,"sku":"B-1"}]},{"id":12,"sku":"C","type":"variable","variations":[{"id":13,"sku":"C-1"}]}]"#)
            h.keys["main"]?.requestsPerSecond = 10
            _ = try await h.refresh("main")
            let gets = h.servers["main"]!.requests().filter { $0.method == "GET" }
            #expect(gets.count == 3, "the products, and the variations of each parent: \(gets.map(\.path))")
            for (a, b) in zip(gets, gets.dropFirst()) {
                // A lower bound only: the sandbox may answer later, never earlier. The margin is
                // for the sandbox stamping a request after it was parsed.
                #expect(b.at.timeIntervalSince(a.at) >= 0.09, "\(b.at.timeIntervalSince(a.at)) s apart")
            }
            // The dispatcher keeps the pace from one round to the next: a round right after one
            // that sent does not start with a burst.
            try h.ingest([variantLine(1, "B-1"), reconcileLine(1, 1, "3")])
            let dispatcher = h.dispatcher()
            _ = try await dispatcher.runOnce(stores: ["main"])
            try h.ingest([reconcileLine(1, 1, "4")])
            _ = try await dispatcher.runOnce(stores: ["main"])
            let posts = h.servers["main"]!.requests().filter { $0.method == "POST" }
            #expect(posts.count == 2 && posts[1].at.timeIntervalSince(posts[0].at) >= 0.09, "\(posts.map(\.at))")
        }
    }

    @Test("refresh lists the variations of up to max_in_flight variable products at once, and of one at a time by default")
    func refreshListsVariationsConcurrently() async throws {
        try await withHarness { h in
            let parents = (0..<3).map { i in #"{"id":\#(10 + 2 * i),"sku":"P\#(i)","type":"variable","variations":[{"id":\#(11 + 2 * i),"sku":"P\#(i)-1"}]}"# }
            try await h.addStore("main", seed: "[" + parents.joined(separator: ",") + "]")
            let server = h.servers["main"]!
            // Every answer takes a second: one listing at a time, no two could start closer than
            // that; started together, they arrive milliseconds apart (half a second of slack).
            server.setFaults(try FaultPlan(parsing: "latency-ms=1000"))
            func variationStarts() -> [Date] {
                server.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/variations") }.map(\.at).sorted()
            }
            h.keys["main"]?.maxInFlight = 2
            let report = try await h.refresh("main")
            #expect(report.products == 3 && report.variations == 3)
            let together = variationStarts()
            #expect(together.count == 3 && together[1].timeIntervalSince(together[0]) < 0.5, "two listings started together: \(together)")
            server.clearRequests()
            h.keys["main"]?.maxInFlight = 1
            #expect(try await h.refresh("main").variations == 3)
            let inTurn = variationStarts()
            #expect(inTurn.count == 3 && zip(inTurn, inTurn.dropFirst()).allSatisfy { $1.timeIntervalSince($0) >= 0.9 }, "one at a time: \(inTurn)")
        }
    }

    @Test("a 413 splits the batch in halves until the host accepts it; every item ends acknowledged")
    func splitAndPartial() async throws {
        try await withHarness { h in
            let seed = "[" + (1...150).map { #"{"id":\#($0 + 100),"sku":"P\#($0)","manage_stock":true}"# }.joined(separator: ",") + "]"
            try await h.addStore("main", seed: seed)
            _ = try await h.refresh("main")
            try h.ingest((1...150).map { variantLine($0, "P\($0)") } + (1...150).map { reconcileLine($0, 1, String($0)) })
            // A host whose batch limit is 40: 100 → 413 → 50 → 413 → 25 ✓ …
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "batch-limit=40"))
            #expect(try await h.syncOnce() == 0)
            let posts = h.servers["main"]!.requests().filter { $0.method == "POST" }
            #expect(posts.allSatisfy { $0.items <= 100 }, "≤ 100 items per request")
            #expect(posts.contains { $0.status == 413 })
            #expect(posts.filter { $0.status == 200 }.allSatisfy { $0.items <= 40 })
            #expect(h.held("main").values.compactMap { $0 }.sorted() == (1...150).map(Int64.init))
        }
    }

    /// Products 101…104 with SKUs P1…P4, fed by variants 1…4 holding 10, 20, 30, 40.
    static func fourProducts(_ h: DispatchHarness) async throws {
        try await h.addStore("main", seed: "[" + (1...4).map { #"{"id":\#(100 + $0),"sku":"P\#($0)","manage_stock":true,"stock_quantity":0}"# }.joined(separator: ",") + "]")
        _ = try await h.refresh("main")
        try h.ingest((1...4).map { variantLine($0, "P\($0)") } + (1...4).map { reconcileLine($0, 1, String($0 * 10)) })
    }

    @Test("§4 per item: a 5xx or missing item is kept and retried with backoff, another 4xx is rejected and dropped until the next change, the rest acknowledged")
    func perItemAnswers() async throws {
        try await withHarness { h in
            try await Self.fourProducts(h)
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=102:500:internal_server_error,item-error=103:400:product_locked,item-missing=104"))
            let first = try await h.dispatcher().runOnce(stores: ["main"])
            #expect(first.code == 75, "entries wait for a retry")
            let p = try h.journal.state().projection
            #expect(p.held[ProductKey("main", 101)] == 10)
            #expect(p.pending[ProductKey("main", 102)]?.quantity == 20, "an item 5xx keeps its entry")
            #expect(p.pending[ProductKey("main", 103)] == nil, "another item 4xx drops the entry")
            #expect(p.pending[ProductKey("main", 104)]?.quantity == 40, "an item missing from the answer keeps its entry")
            #expect(first.rounds.contains { $0.rejected == 1 && $0.warnings.contains { $0.contains("103") && $0.contains("product_locked") } })
            // Until an answer is recorded, a retried item stays marked in flight: a crash re-sends it.
            #expect(Set(try h.journal.inFlight(store: "main").keys) == [102, 104])
            let log = try h.journal.deliveries(store: "main")
            #expect(log.contains { $0.wooID == 102 && $0.httpStatus == 500 && $0.errorCode == "internal_server_error" })
            #expect(log.contains { $0.wooID == 103 && $0.httpStatus == 400 && $0.errorCode == "product_locked" })
            #expect(log.contains { $0.wooID == 104 && $0.errorCode == "missing_from_response" })
            // The refusal is shown where the merchant looks (SPEC §4: status, explain).
            let explained = try Explain.render(.sku("P3"), store: "main", in: try h.journal.state())
            #expect(explained.contains("Last refusal:") && explained.contains("30 refused with HTTP 400 product_locked"), "\(explained)")
            // The store recovers: the kept entries go out; the rejected product waits for its next change.
            h.servers["main"]!.setFaults(FaultPlan())
            #expect(try await h.syncUntilDone() == 0)
            #expect(h.held("main")[102] == 20 && h.held("main")[104] == 40 && h.held("main")[103] == 0)
            #expect(try h.journal.state().projection.pending.isEmpty)
            #expect(try h.journal.inFlight(store: "main").isEmpty)
            try h.ingest([adjustmentLine(1, 3, 1)])
            #expect(try await h.syncOnce() == 0)
            #expect(h.held("main")[103] == 31)
        }
    }

    @Test("§4 backoff counts failures in a row: a round in which the store settled items restarts the count, a round with no answer adds to it")
    func backoffRestartsAfterProgress() async throws {
        try await withHarness { h in
            try await Self.fourProducts(h)
            // Product 102 fails on the store's side every time; the others are answered.
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=102:500:internal_server_error"))
            func failuresAfterRound() async throws -> Int {
                // The harness's delays are at most 0.2 s: past them, the store is due again.
                try await Task.sleep(nanoseconds: 300_000_000)
                #expect(try await h.syncOnce() == 75)
                return try h.journal.storeStatus("main").failures
            }
            #expect(try await failuresAfterRound() == 1)
            // Each round another product changes and is acknowledged, beside 102's failure.
            for round in 1...3 {
                try h.ingest([adjustmentLine(round, 1, 1)])
                #expect(try await failuresAfterRound() == 1, "round \(round): the store answered, so its failure is the first in a row")
            }
            #expect(h.held("main")[101] == 13)
            // Nothing else to send: 102 alone fails again and again, and the backoff grows.
            #expect(try await failuresAfterRound() == 2)
            #expect(try await failuresAfterRound() == 3)
        }
    }

    /// Variations 301 and 302 (parent 300) and 401 (parent 400), fed by variants 1…3 holding
    /// 10, 20, 30: two batches, since variations go per parent, sent one request at a time.
    static func twoVariableProducts(_ h: DispatchHarness) async throws {
        try await h.addStore("main", seed: #"[{"id":300,"type":"variable","variations":[{"id":301,"sku":"V1","manage_stock":true,"stock_quantity":0},{"id":302,"sku":"V2","manage_stock":true,"stock_quantity":0}]},{"id":400,"type":"variable","variations":[{"id":401,"sku":"V3","manage_stock":true,"stock_quantity":0}]}]"#)
        h.keys["main"] = Credentials(consumerKey: "ck_main", consumerSecret: "cs_main", requestsPerSecond: 1000, maxInFlight: 1)
        _ = try await h.refresh("main")
        try h.ingest((1...3).map { variantLine($0, "V\($0)") } + (1...3).map { reconcileLine($0, 1, String($0 * 10)) })
    }

    /// The variations batches the store received for `parent`.
    static func batches(_ h: DispatchHarness, parent: Int) -> Int {
        h.servers["main"]!.requests().filter { $0.method == "POST" && $0.path.contains("/products/\(parent)/variations/batch") }.count
    }

    @Test("§4 per item: a product failing on the store's side does not hold back the rest of the round; a batch whose items all fail stops it")
    func itemFailureDoesNotHoldBackTheRound() async throws {
        try await withHarness { h in
            try await Self.twoVariableProducts(h)
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=301:500:internal_server_error"))
            #expect(try await h.syncOnce() == 75, "301 waits for a retry")
            #expect(h.held("main")[302] == 20 && h.held("main")[401] == 30, "the batch after the failing item's went out in the same round")
            #expect(try h.journal.state().projection.pending[ProductKey("main", 301)]?.quantity == 10)
            #expect(try h.journal.storeStatus("main").retryAt != nil, "the failing item backs the store off")
            #expect(Self.batches(h, parent: 300) == 1, "301 is not sent again before its backoff")

            // Every item of the first batch fails: the store is failing, not one product, so the round stops.
            try await Task.sleep(nanoseconds: 300_000_000)
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=301:500:internal_server_error,item-error=302:500:internal_server_error"))
            try h.ingest((1...3).map { adjustmentLine(10 + $0, $0, 1) })
            #expect(try await h.syncOnce() == 75)
            #expect(h.held("main")[401] == 30, "the second batch was not sent")
            #expect(try h.journal.state().projection.pending[ProductKey("main", 401)]?.quantity == 31)

            h.servers["main"]!.setFaults(FaultPlan())
            #expect(try await h.syncUntilDone() == 0)
            #expect(h.held("main")[301] == 11 && h.held("main")[302] == 21 && h.held("main")[401] == 31)
        }
    }

    @Test("§4 per item: when another writer makes the round remake its batches, the item that failed stays out until its backoff")
    func remadeBatchesLeaveOutFailedItems() async throws {
        try await withHarness { h in
            try await Self.twoVariableProducts(h)
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=301:500:internal_server_error"))
            let other = try Journal(path: h.journal.path, writable: true)
            let changed = h.tmp.path("changed.jsonl")
            try adjustmentLine(50, 2, 1).write(toFile: changed, atomically: true, encoding: .utf8)
            let dispatcher = h.dispatcher()
            var waves = 0
            // After the first wave (301 failed, 302 acknowledged), another process changes 302.
            dispatcher.afterWave = { _ in
                waves += 1
                if waves == 1 { _ = try? other.ingest([changed]) }
            }
            _ = try await dispatcher.round(stores: ["main"])
            #expect(h.held("main")[302] == 21 && h.held("main")[401] == 30, "the remade batches went out")
            #expect(Self.batches(h, parent: 300) == 2, "302's new value, without 301")
            let sent301 = try h.journal.deliveries(store: "main", wooIDs: [301]).count
            #expect(sent301 == 1, "301 was sent once this round")
        }
    }

    @Test("§4 per item: an item refused with 403 pauses the store and keeps its entry, also beside an item to retry")
    func perItemForbiddenPauses() async throws {
        try await withHarness { h in
            try await Self.fourProducts(h)
            // Beside an item failing on the store's side (retried), the refusal still pauses.
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "item-error=102:403:woocommerce_rest_cannot_edit,item-error=103:500:internal_server_error"))
            #expect(try await h.syncOnce() == 77)
            #expect(try h.journal.storeStatus("main").pausedReason?.contains("403") == true)
            #expect(try h.journal.state().projection.pending[ProductKey("main", 102)]?.quantity == 20)
            #expect(h.held("main")[101] == 10, "the rest of the batch was saved and acknowledged")
        }
    }

    @Test("§4 a variations batch whose parent is gone: each of its variations leaves the catalogue, other products are updated")
    func variationsOfDeletedParent() async throws {
        try await withHarness { h in
            try await h.addStore("main", seed: """
                [{"id":30,"sku":"SHIRT","type":"variable","manage_stock":false,"variations":[
                   {"id":31,"sku":"SHIRT-S","manage_stock":true,"stock_quantity":1},{"id":32,"sku":"SHIRT-M","manage_stock":true,"stock_quantity":1}]},
                 {"id":40,"sku":"CAP","manage_stock":true,"stock_quantity":0}]
                """)
            _ = try await h.refresh("main")
            try h.ingest([variantLine(1, "SHIRT-S"), variantLine(2, "SHIRT-M"), variantLine(3, "CAP")])
            try await deleteProduct(h, 30)
            try h.ingest([reconcileLine(1, 1, "5"), reconcileLine(2, 1, "6"), reconcileLine(3, 1, "7")])
            #expect(try await h.syncOnce() == 0)
            let p = try h.journal.state().projection
            #expect(p.catalogue[ProductKey("main", 31)] == nil && p.catalogue[ProductKey("main", 32)] == nil)
            #expect(p.pending.isEmpty)
            #expect(h.held("main")[40] == 7)
            let gone = try h.journal.deliveries(store: "main").filter { $0.errorCode == "woocommerce_rest_product_invalid_id" }
            #expect(Set(gone.map(\.wooID)) == [31, 32] && gone.allSatisfy { $0.httpStatus == 404 && $0.parentID == 30 })
        }
    }

    @Test("§4 an echo that differs from the value sent is a warning: stock management off store-wide echoes null")
    func echoDiffers() async throws {
        try await withHarness { h in
            try await Self.fourProducts(h)
            h.servers["main"]!.setFaults(try FaultPlan(parsing: "stock-management=off"))
            let run = try await h.dispatcher().runOnce(stores: ["main"])
            #expect(run.code == 0)
            let warnings = run.rounds.flatMap(\.warnings)
            #expect(warnings.count == 4 && warnings.contains { $0.contains("product 101") && $0.contains("sent 10, the store echoed null") })
            let p = try h.journal.state().projection
            #expect(p.pending.isEmpty, "acknowledged all the same")
            #expect(p.held.isEmpty, "a null echo: what the store holds is unknown")
            #expect(try h.journal.deliveries(store: "main").allSatisfy { $0.httpStatus == 200 && $0.echoed == nil })
        }
    }
}

/// A count shared between a running dispatcher's callbacks and its loop's stop check.
final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    /// Counts one more and returns the new count.
    @discardableResult func add() -> Int { lock.withLock { count += 1; return count } }
}
