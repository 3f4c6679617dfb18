import Foundation
import StockDomain
import StockEngine
import StockSyncService
import StockSyncTesting
import Testing
import WooCommerce
import WooCommerceSandbox

/// The dispatcher's commands as a merchant runs them: the real binary against a sandbox.
@Suite("Dispatcher CLI", .serialized)
struct DispatchCLITests {
    static let seed = #"[{"id":10,"sku":"A","manage_stock":true,"stock_quantity":0},{"id":11,"sku":"B,1","manage_stock":false},{"id":12,"sku":"C","manage_stock":true}]"#

    func setUp(_ tmp: TemporaryDirectory, _ server: SandboxServer, mode: Int32 = 0o600) throws -> (db: String, credentials: String) {
        let db = tmp.path("s.db"), credentials = tmp.path("credentials.json")
        try #"{"stores":{"main":{"consumer_key":"\#(server.consumerKey)","consumer_secret":"\#(server.consumerSecret)"}}}"#
            .write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, mode_t(mode))
        #expect(try CLI.run(["store", "connect", "main", "--url", server.url, "--location", "1", "--stock-sync", "on", "--db", db]).status == 0)
        return (db, credentials)
    }

    func katana(_ tmp: TemporaryDirectory) throws -> String {
        let file = tmp.path("katana.jsonl")
        try [variantLine(1, "A"), variantLine(2, "B,1"), variantLine(3, "C"), reconcileLine(1, 1, "7"), reconcileLine(2, 1, "3"),
             reconcileLine(3, 1, "2")].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// `setUp`, then the catalogue refreshed and the Katana events ingested: three products pending.
    func refreshedAndIngested(_ tmp: TemporaryDirectory, _ server: SandboxServer) throws -> (db: String, credentials: String) {
        let (db, credentials) = try setUp(tmp, server)
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 0)
        #expect(try CLI.run(["ingest", "--db", db, try katana(tmp)]).status == 0)
        return (db, credentials)
    }

    @Test("refresh (with how many variants match, through a 503 sent again), sync --once, deliveries --json (an unknown --store refused, --last N), export CSV, explain with the last deliveries; no secret anywhere")
    func fullCycle() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try setUp(tmp, server)
        try variantLine(4, "NOT-IN-STORE").write(toFile: tmp.path("unmatched.jsonl"), atomically: true, encoding: .utf8)
        let refresh = try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials])
        #expect(refresh.status == 0, "\(refresh.stderr)")
        #expect(refresh.stdout.contains("3 products"))
        #expect(try CLI.run(["ingest", "--db", db, try katana(tmp), tmp.path("unmatched.jsonl")]).status == 0)
        // Refreshed again with the variants known: how many match, and a pointer for the rest;
        // a 503 on the way is sent again, and the operator told so on a line of its own.
        server.setFaults(try FaultPlan(parsing: "status=503,count=1"))
        let retried = try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials])
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stdout.contains("Katana variants: 3 matched by SKU, 0 by WooCommerce id; 1 with a SKU or link match nothing here"), "\(retried.stdout)")
        #expect(retried.stdout.contains("3 matched products have no known stock value in the store (new or returned); 'stocksync resync --store main --unknown' pushes them (without --unknown, every matched product: 3)"), "\(retried.stdout)")
        #expect(retried.stderr.hasPrefix("stocksync: store 'main': products page 1: HTTP 503") && retried.stderr.contains("(retry 1 of 4)\n"), "\(retried.stderr)")
        let sync = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(sync.status == 0, "\(sync.stderr)")
        #expect(sync.stdout.contains("acknowledged 3"))
        #expect(server.products()[10]?.stockQuantity == 7)
        #expect(server.products()[11]?.stockQuantity == 3 && server.products()[11]?.manageStock == true)
        let deliveries = try CLI.run(["deliveries", "--db", db, "--json", "--sku", "A"])
        guard case .object(let top) = try JSONReader.parse(deliveries.stdout),
              case .array(let rows)? = top.first?.value, case .object(let row)? = rows.first else { Issue.record("shape"); return }
        #expect(row.map(\.key) == ["at", "store", "woo_id", "parent_id", "sku", "position", "sent", "http_status", "error_code", "echoed"])
        #expect(rows.count == 1)
        let dashed = try CLI.run(["deliveries", "--db", db, "--json", "--sku", "-A"])
        #expect(dashed.status == 0 && dashed.stdout == "{\"deliveries\":[]}\n", "a SKU starting with '-' is looked up: \(dashed.stdout)\(dashed.stderr)")
        #expect(try CLI.run(["deliveries", "--db", db, "--store", "main"]).stdout.contains("main"))
        // The latest attempts only, still oldest first: the last one sent is product 12 (SKU C).
        let latest = try CLI.run(["deliveries", "--db", db, "--last", "1"]).stdout.split(separator: "\n")
        #expect(latest.count == 1 && latest[0].contains("  main  12  C  "), "\(latest)")
        let negative = try CLI.run(["deliveries", "--db", db, "--last", "-1"])
        #expect(negative.status == 64 && negative.stderr.contains("--last must be ≥ 0"), "\(negative.stderr)")
        let typo = try CLI.run(["deliveries", "--db", db, "--store", "mian"])
        #expect(typo.status == 65 && typo.stderr.contains("unknown store 'mian'"), "a typo is not 'No deliveries.': \(typo.stdout)")
        let csv = try CLI.run(["export", "--store", "main", "--db", db])
        #expect(csv.stdout == "ID,SKU,Stock\n10,A,7\n11,\"B,1\",3\n12,C,2\n")
        let explain = try CLI.run(["explain", "A", "--store", "main", "--db", db])
        #expect(explain.stdout.contains("Last deliveries:") && explain.stdout.contains("→ HTTP 200"))
        let everything = [refresh, retried, sync, deliveries, csv, explain, try CLI.run(["log", "--json", "--db", db])]
        for r in everything { #expect(!(r.stdout + r.stderr).contains(server.consumerSecret), "the secret leaked") }
        try await server.shutdown()
    }

    @Test("credentials: a file the group or others can read is refused (77) with the chmod to run, a directory as not a file; a store without credentials makes --once exit 77; a byte order mark opening the file is skipped")
    func credentials() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try setUp(tmp, server, mode: 0o644)
        let refused = try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials])
        #expect(refused.status == 77)
        #expect(refused.stderr.contains("chmod 600 \(credentials)"))
        // Readable by the group only is refused too: the secrets are the merchant's alone.
        chmod(credentials, 0o640)
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 77)
        chmod(credentials, 0o600)
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 0)
        #expect(try CLI.run(["ingest", "--db", db, try katana(tmp)]).status == 0)
        let other = tmp.path("other.json")
        try #"{"stores":{}}"#.write(toFile: other, atomically: true, encoding: .utf8)
        chmod(other, 0o600)
        let none = try CLI.run(["sync", "--once", "--db", db, "--credentials", other])
        #expect(none.status == 77)
        #expect(none.stdout.contains("NO CREDENTIALS"))
        // A directory given for the file: named as such, with no chmod advice about it.
        let directory = try CLI.run(["sync", "--once", "--db", db, "--credentials", tmp.url.path])
        #expect(directory.status == 77 && directory.stderr.contains("not a file") && !directory.stderr.contains("chmod"), "\(directory.stderr)")
        // Saved by a Windows editor: a byte order mark before the JSON is skipped.
        let marked = try String(contentsOfFile: credentials, encoding: .utf8)
        try ("\u{FEFF}" + marked).write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, 0o600)
        let synced = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(synced.status == 0 && synced.stdout.contains("acknowledged 3"), "\(synced.stderr)")
        try await server.shutdown()
    }

    @Test("credentials: a misspelt, ill-typed or out-of-range field is refused (77) by name, never left at its default unseen; so are keys pasted with a space or line break, or swapped")
    func credentialsFields() throws {
        let tmp = TemporaryDirectory("stocksync-cred")
        defer { tmp.remove() }
        let path = tmp.path("c.json")
        func load(_ fields: String) throws(EngineError) -> CredentialsFile {
            try? #"{"stores":{"main":{\#(fields)}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o600)
            return try CredentialsFile.load(path)
        }
        let keys = #""consumer_key":"ck_1","consumer_secret":"cs_1""#
        let loaded = try load(keys + #","auth":"query","requests_per_second":0.5,"max_in_flight":3"#).credentials(for: "main")
        #expect(loaded.auth == .query && loaded.requestsPerSecond == 0.5 && loaded.maxInFlight == 3)
        let refusals = [
            (keys + #","max_inflight":4"#, "stores.main.max_inflight is not a credentials field"),
            (#""ck_1":"cs_1""#, "stores.main has a field that is not a credentials field (its name is not shown"),
            (keys + #","requests_per_second":"5""#, "stores.main.requests_per_second must be a number > 0"),
            (keys + #","requests_per_second":0"#, "stores.main.requests_per_second must be a number > 0"),
            (keys + #","max_in_flight":2.5"#, "stores.main.max_in_flight must be a whole number ≥ 1"),
            (keys + #","auth":"digest""#, "stores.main.auth must be basic, oauth1 or query"),
            (#""consumer_key":"ck_1","consumer_secret":5"#, "stores.main.consumer_secret must be a non-empty string"),
            (#""consumer_secret":"cs_1""#, "stores.main.consumer_key is missing"),
            (#""consumer_key":"ck_1 ","consumer_secret":"cs_1""#, "stores.main.consumer_key starts or ends with a space or a line break"),
            (#""consumer_key":" ck_1","consumer_secret":"cs_1""#, "stores.main.consumer_key starts or ends with a space or a line break"),
            (#""consumer_key":"ck_1","consumer_secret":"cs_1\n""#, "stores.main.consumer_secret starts or ends with a space or a line break"),
            (#""consumer_key":"cs_1","consumer_secret":"ck_1""#, "stores.main.consumer_key holds the secret (cs_…) and consumer_secret the key (ck_…); swap them"),
        ]
        for (fields, message) in refusals {
            do {
                _ = try load(fields)
                Issue.record("accepted: \(fields)")
            } catch {
                #expect(error.kind == .configuration && error.message.contains(message), "\(error.message)")
                #expect(!error.message.contains("cs_1") && !error.message.contains("ck_1"), "a key leaked")
            }
        }
    }

    @Test("a variation whose stock its parent manages (manage_stock \"parent\") gets stock of its own; the echo matches, no warning")
    func parentManagedVariation() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let seed = #"[{"id":20,"sku":"P","type":"variable","manage_stock":true,"stock_quantity":5,"variations":[{"id":21,"sku":"A","manage_stock":"parent"}]}]"#
        let server = try await SandboxServer.start(seed: try JSONReader.parse(seed))
        let (db, credentials) = try setUp(tmp, server)
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 0)
        let file = tmp.path("katana.jsonl")
        try [variantLine(1, "A"), reconcileLine(1, 1, "7")].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        let sync = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(sync.status == 0 && sync.stdout.contains("acknowledged 1"), "\(sync.stdout)\(sync.stderr)")
        #expect(!sync.stderr.contains("echo"), "\(sync.stderr)")
        #expect(server.products()[21]?.manageStock == true && server.products()[21]?.stockQuantity == 7)
        #expect(server.products()[20]?.stockQuantity == 5)
        #expect(try CLI.run(["outbox", "--json", "--db", db]).stdout.contains(#""pending":[]"#))
        try await server.shutdown()
    }

    @Test("a URL where WordPress answers its HTML 404 (wrong subdirectory, \"Plain\" permalinks): refresh exits 77 and sync pauses, both saying what to check")
    func notTheRESTAPI() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        #expect(try CLI.run(["store", "reconfigure", "main", "--url", server.url + "/shop", "--db", db]).status == 0)
        let refresh = try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials])
        #expect(refresh.status == 77, "\(refresh.stderr)")
        #expect(refresh.stderr.contains("HTTP 404") && refresh.stderr.contains("permalinks"), "\(refresh.stderr)")
        let sync = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(sync.status == 77 && sync.stderr.contains("PAUSED") && sync.stderr.contains("permalinks"), "\(sync.stderr)")
        try await server.shutdown()
    }

    @Test("store refresh without an id refreshes every connected store; one that fails is named, the others still refresh, and its exit code ends the command")
    func refreshEveryStore() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try setUp(tmp, server)
        // 'a-first' sorts before 'main' and has no credentials: main is refreshed all the same.
        #expect(try CLI.run(["store", "connect", "a-first", "--url", server.url, "--location", "2", "--stock-sync", "off", "--db", db]).status == 0)
        let all = try CLI.run(["store", "refresh", "--db", db, "--credentials", credentials])
        #expect(all.status == 77, "\(all.stderr)")
        #expect(all.stderr.contains("no credentials for store 'a-first'"), "\(all.stderr)")
        #expect(all.stdout.contains("refreshed store 'main': 3 products"), "\(all.stdout)")
        let missing = try CLI.run(["store", "refresh", "--db", tmp.path("empty.db"), "--credentials", credentials])
        #expect(missing.status == 74, "a missing database is still an error: \(missing.stderr)")
        for store in ["a-first", "main"] { #expect(try CLI.run(["store", "disconnect", store, "--db", db]).status == 0) }
        let none = try CLI.run(["store", "refresh", "--db", db, "--credentials", credentials])
        #expect(none.status == 0 && none.stdout == "No stores connected.\n", "\(none.stdout)\(none.stderr)")
        try await server.shutdown()
    }

    @Test("a refresh that read the whole catalogue waits up to a minute for another writer (a long ingest) rather than the usual busy timeout, so the read is not lost")
    func refreshOutlastsABusyDatabase() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try setUp(tmp, server)
        let writer = try SQLiteFixture(path: db)
        try writer.execute("BEGIN IMMEDIATE")
        let refresh = Task.detached {
            try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials], environment: ["STOCKSYNC_BUSY_TIMEOUT_MS": "100"])
        }
        // Once the listing is read the refresh waits on the lock, far past 100 ms; then the writer ends.
        for _ in 0..<200 where server.requests().isEmpty { try await Task.sleep(nanoseconds: 50_000_000) }
        try await Task.sleep(nanoseconds: 1_000_000_000)
        try writer.execute("COMMIT")
        let result = try await refresh.value
        #expect(result.status == 0 && result.stdout.contains("3 products"), "\(result.stderr)")
        try await server.shutdown()
    }

    @Test("a running sync outlasts a writer that holds the database past the busy timeout: it says so (its log lines stamped with the time), waits, and sends once the writer is done")
    func syncOutlastsABusyDatabase() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        // Another writer (a long ingest, say) holds the write lock.
        let writer = try SQLiteFixture(path: db)
        try writer.execute("BEGIN IMMEDIATE")
        let sync = try RunningSync(db: db, credentials: credentials, log: tmp.path("sync.log"), environment: ["STOCKSYNC_BUSY_TIMEOUT_MS": "100"])
        #expect(sync.eventually { sync.stderr.contains("database is busy") }, "the sync met the lock and said so")
        // A daemon's log line says when: an RFC 3339 time, then the message.
        let busyLine = sync.stderr.split(separator: "\n").first { $0.contains("database is busy") }.map(String.init) ?? ""
        #expect(busyLine.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z stocksync: .*/) != nil, "\(busyLine)")
        #expect(sync.process.isRunning, "a busy database does not end the sync")
        #expect(server.products()[10]?.stockQuantity == 0, "nothing was sent while the journal could not record it")
        try writer.execute("COMMIT")
        #expect(sync.eventually { server.products()[10]?.stockQuantity == 7 }, "sent once the writer is done")
        #expect(sync.stop() == 0)
        #expect(try CLI.run(["outbox", "--json", "--db", db]).stdout.contains(#""pending":[]"#))
        try await server.shutdown()
    }

    @Test("a running sync reads the credentials file again when it changes: fixing a wrong secret lifts the pause without a restart")
    func syncReloadsCredentials() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        let good = try String(contentsOfFile: credentials, encoding: .utf8)
        try good.replacingOccurrences(of: server.consumerSecret, with: "cs_wrong").write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, 0o600)
        let sync = try RunningSync(db: db, credentials: credentials, log: tmp.path("sync.log"))
        #expect(sync.eventually { sync.stderr.contains("PAUSED") }, "the wrong secret pauses the store")
        // Fixed the way an operator would: written (readable by others for a moment), then chmod 600.
        // The daemon is made to read the file in between: the chmod alone must count as a change.
        try good.write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, 0o644)
        #expect(sync.eventually { sync.stderr.contains("keeping the credentials loaded before") }, "a file others can read is not used")
        chmod(credentials, 0o600)
        #expect(sync.eventually { server.products()[10]?.stockQuantity == 7 }, "sent with the fixed keys, no restart, no resume")
        #expect(sync.stderr.contains("credentials reloaded"))
        #expect(!sync.stderr.contains(server.consumerSecret), "no secret in the log")
        #expect(sync.stop() == 0)
        try await server.shutdown()
    }

    @Test("out-of-range options are usage errors (64), never silently changed: sandbox --port 99999 (it was truncated to 34463), sync --timeout 0, --retry-first 0, --retry-max below --retry-first, and anything past a day")
    func outOfRangeOptions() throws {
        // Under coreutils' timeout: a sandbox that starts anyway would otherwise serve forever.
        let sandbox = Process()
        sandbox.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        sandbox.arguments = ["10", Checkout.stocksyncBinary(), "sandbox", "--port", "99999"]
        sandbox.standardOutput = FileHandle.nullDevice
        sandbox.standardError = FileHandle.nullDevice
        try sandbox.run()
        sandbox.waitUntilExit()
        #expect(sandbox.terminationStatus == 64, "the sandbox started on another port instead of refusing")
        for args in [["--timeout", "0"], ["--retry-first", "0"], ["--retry-first", "2", "--retry-max", "1"],
                     ["--timeout", "86401"], ["--retry-first", "nan"], ["--retry-max", "1e300"]] {
            let r = try CLI.run(["sync", "--once", "--db", "/nonexistent/s.db"] + args)
            #expect(r.status == 64 && r.stderr.contains(args[args.count - 2]), "\(args): \(r.stderr)")
        }
    }

    @Test("a store address that redirects is not followed: refresh exits 77, sync pauses the store naming the address to set, which then works; the other address heard nothing before")
    func redirectingStore() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let moved = try await SandboxServer.start(consumerKey: server.consumerKey, consumerSecret: server.consumerSecret, seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        // The site now answers from another address, as WordPress does when its address changed.
        server.setFaults(try FaultPlan(parsing: "redirect=\(moved.url)"))
        let refresh = try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials])
        #expect(refresh.status == 77, "\(refresh.stderr)")
        #expect(refresh.stderr.contains("redirects to \(moved.url);"), "\(refresh.stderr)")
        let sync = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(sync.status == 77 && sync.stderr.contains("PAUSED"), "\(sync.stderr)")
        #expect(sync.stderr.contains("store reconfigure main --url \(moved.url)"), "\(sync.stderr)")
        #expect(moved.requests().isEmpty, "neither the credentials nor the batch went to the other address")
        #expect(try CLI.run(["outbox", "--json", "--db", db]).stdout.components(separatedBy: #""woo_id""#).count == 4, "the three entries are kept")

        #expect(try CLI.run(["store", "reconfigure", "main", "--url", moved.url, "--db", db]).status == 0)
        #expect(try CLI.run(["store", "resume", "main", "--db", db]).status == 0)
        let again = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(moved.products()[10]?.stockQuantity == 7)
        try await server.shutdown()
        try await moved.shutdown()
    }

    @Test("401 pauses the store (store list shows it, with what waits and the last answer; a 503 as waiting to retry) until 'store resume', which says whether there was a pause; resync refused for a store with sync off; refresh names an unknown store before looking for credentials")
    func pauseAndResume() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        server.setFaults(try FaultPlan(parsing: "status=401,count=1"))
        let paused = try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials])
        #expect(paused.status == 77)
        #expect(paused.stderr.contains("PAUSED"))
        #expect(try CLI.run(["store", "list", "--json", "--db", db]).stdout.contains(#""paused":true"#))
        // The text form is the operator's status screen: what waits, the last answer, the pause.
        let listed = try CLI.run(["store", "list", "--db", db]).stdout.split(separator: "\n").map(String.init)
        #expect(listed.count == 3 && listed[0].hasSuffix("PENDING  LAST ANSWER"), "\(listed)")
        #expect(listed[1].contains("  on  ") && listed[1].contains("  3        HTTP 401 at 20"), "\(listed)")
        #expect(listed[2].hasPrefix("store 'main' is PAUSED: HTTP 401"), "\(listed)")
        let resumed = try CLI.run(["store", "resume", "main", "--db", db])
        #expect(resumed.status == 0 && resumed.stdout == "store 'main' resumed\n", "\(resumed.stdout)")
        // A passing failure: the store waits to retry, and says so until then.
        server.setFaults(try FaultPlan(parsing: "status=503,retry-after=3600,count=1"))
        #expect(try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials]).status == 75)
        let waiting = try CLI.run(["store", "list", "--db", db]).stdout.split(separator: "\n").map(String.init)
        #expect(waiting.count == 3 && waiting[1].contains("  3        HTTP 503 at 20"), "\(waiting)")
        #expect(waiting[2].hasPrefix("store 'main' is waiting to retry at 20") && waiting[2].hasSuffix(", after 1 failed attempt in a row"), "\(waiting)")
        #expect(try CLI.run(["store", "resume", "main", "--db", db]).status == 0, "lifts the backoff too")
        #expect(try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials]).status == 0)
        #expect(try CLI.run(["store", "list", "--json", "--db", db]).stdout.contains(#""paused":false"#))
        let done = try CLI.run(["store", "list", "--db", db]).stdout.split(separator: "\n").map(String.init)
        #expect(done.count == 2 && done[1].contains("  0        HTTP 200 at 20"), "\(done)")
        #expect(try CLI.run(["store", "resume", "main", "--db", db]).stdout == "store 'main' was not paused; nothing to do\n")
        // A mistyped store is named as unknown, before any credentials are looked for.
        let typo = try CLI.run(["store", "refresh", "mian", "--db", db, "--credentials", credentials])
        #expect(typo.status == 65 && typo.stderr.contains("unknown store 'mian'"), "\(typo.stderr)")
        let resync = try CLI.run(["resync", "--store", "main", "--db", db])
        #expect(resync.status == 0 && resync.stdout.contains("3 products pending"))
        #expect(try CLI.run(["store", "reconfigure", "main", "--stock-sync", "off", "--db", db]).status == 0)
        #expect(try CLI.run(["resync", "--store", "main", "--db", db]).status == 65)
        try await server.shutdown()
    }

    @Test("resync --sku, --woo-id and --unknown push only those products, whatever the store holds; a SKU or id naming no matched product is refused with why; --unknown with every value known appends nothing")
    func narrowedResync() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let server = try await SandboxServer.start(seed: try JSONReader.parse(Self.seed))
        let (db, credentials) = try refreshedAndIngested(tmp, server)
        #expect(try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials]).status == 0)
        func outbox() throws -> String { try CLI.run(["outbox", "--json", "--db", db]).stdout }
        func head() throws -> String { try CLI.run(["log", "--json", "--db", db]).stdout }
        let before = try head()
        let none = try CLI.run(["resync", "--store", "main", "--unknown", "--db", db])
        #expect(none.status == 0 && none.stdout == "nothing to resync: store 'main' is known to hold a value for every matched product\n", "\(none.stdout)\(none.stderr)")
        #expect(try head() == before, "nothing appended")
        for (args, why) in [(["--sku", "NOPE"], "--sku: 'NOPE' is the SKU of no Katana variant"),
                            (["--sku", "a"], "--sku: 'a' is the SKU of no Katana variant (SKUs are case-sensitive)"),
                            (["--sku", "-A"], "--sku: '-A' is the SKU of no Katana variant"),
                            (["--woo-id", "999"], "--woo-id: product 999 is not in store 'main''s catalogue"),
                            (["--sku", "A", "--woo-id", "999"], "--woo-id: product 999")] {
            let r = try CLI.run(["resync", "--store", "main", "--db", db] + args)
            #expect(r.status == 65 && r.stderr.contains(why), "\(args): \(r.stderr)")
        }
        #expect(try head() == before, "a refused resync appends nothing")
        // Product 12 (SKU C) was edited by hand in WooCommerce: push it alone.
        server.edit(12) { $0.stockQuantity = 50 }
        let one = try CLI.run(["resync", "--store", "main", "--sku", "C", "--db", db])
        #expect(one.status == 0 && one.stdout.contains("(1 product requested): 1 product pending"), "\(one.stdout)\(one.stderr)")
        let pushed = try outbox()
        #expect(pushed.contains(#"{"pending":[{"store":"main","woo_id":12,"parent_id":null,"quantity":2,"#), "\(pushed)")
        #expect(try CLI.run(["sync", "--once", "--db", db, "--credentials", credentials]).status == 0)
        #expect(server.products()[12]?.stockQuantity == 2 && server.products()[10]?.stockQuantity == 7)
        // Product 10 leaves the store and comes back: its value there is unknown again.
        server.edit(10) { $0.status = "trash" }
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 0)
        server.edit(10) { $0.status = "publish"; $0.stockQuantity = 0 }
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).status == 0)
        let unknown = try CLI.run(["resync", "--store", "main", "--unknown", "--woo-id", "11", "--db", db])
        #expect(unknown.status == 0 && unknown.stdout.contains("(2 products requested): 2 products pending"), "\(unknown.stdout)\(unknown.stderr)")
        let returned = try outbox()
        #expect(returned.contains(#"{"pending":[{"store":"main","woo_id":10,"parent_id":null,"quantity":7,"#), "\(returned)")
        #expect(try head().contains(#""type":"store.resync_requested","at":"#) && head().contains(#""data":{"store":"main","woo_ids":[10,11]}}"#))
        try await server.shutdown()
    }

    @Test("stocksync sandbox: first line 'listening on', serves the seed (a missing seed or a directory named, 74); sync without --once stops cleanly on SIGTERM")
    func sandboxAndContinuousSync() async throws {
        let tmp = TemporaryDirectory("stocksync-dcli")
        defer { tmp.remove() }
        let seedFile = tmp.path("seed.json")
        for (path, message) in [(tmp.url.path, "is a directory"), (seedFile, "no such file")] {
            let bad = try CLI.run(["sandbox", "--seed", path])
            #expect(bad.status == 74 && bad.stderr.contains("\(path): \(message)"), "\(bad.stderr)")
        }
        try Self.seed.write(toFile: seedFile, atomically: true, encoding: .utf8)
        let sandbox = Process()
        sandbox.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
        sandbox.arguments = ["sandbox", "--seed", seedFile, "--consumer-key", "ck_x", "--consumer-secret", "cs_x"]
        let out = Pipe()
        sandbox.standardOutput = out
        try sandbox.run()
        defer { if sandbox.isRunning { sandbox.terminate() } }
        var line = ""
        while !line.contains("\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        let first = line.split(separator: "\n").first.map(String.init) ?? ""
        #expect(first.hasPrefix("listening on http://127.0.0.1:"))
        let url = String(first.dropFirst("listening on ".count))
        let db = tmp.path("s.db"), credentials = tmp.path("c.json")
        try #"{"stores":{"main":{"consumer_key":"ck_x","consumer_secret":"cs_x"}}}"#.write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, 0o600)
        #expect(try CLI.run(["store", "connect", "main", "--url", url, "--location", "1", "--stock-sync", "on", "--db", db]).status == 0)
        #expect(try CLI.run(["store", "refresh", "main", "--db", db, "--credentials", credentials]).stdout.contains("3 products"))
        #expect(try CLI.run(["ingest", "--db", db, try katana(tmp)]).status == 0)
        let sync = Process()
        sync.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
        sync.arguments = ["sync", "--db", db, "--credentials", credentials]
        sync.standardOutput = FileHandle.nullDevice
        sync.standardError = FileHandle.nullDevice
        try sync.run()
        var outbox = ""
        for _ in 0..<100 {
            try await Task.sleep(nanoseconds: 100_000_000)
            outbox = try CLI.run(["outbox", "--json", "--db", db]).stdout
            if outbox.contains(#""pending":[]"#) { break }
        }
        #expect(outbox.contains(#""pending":[]"#), "the running dispatcher drained the outbox")
        kill(sync.processIdentifier, SIGTERM)
        sync.waitUntilExit()
        #expect(sync.terminationStatus == 0)
        sandbox.terminate()
        sandbox.waitUntilExit()
    }
}

@Suite("Lenient decoding where WooCommerce is lenient")
struct LenientDecodingTests {
    @Test("manage_stock 'parent', ids and quantities as strings, dates without offset")
    func lenient() throws {
        let json = try JSONReader.parse(#"{"id":"14","parent_id":13,"type":"variation","sku":"V","date_created_gmt":"2026-11-27T20:23:08","manage_stock":"parent","stock_quantity":"6"}"#)
        let record = try #require(WooProductRecord(json: json))
        #expect(record.id == 14 && record.parentID == 13 && record.manageStock == nil && record.stockQuantity == 6)
        let entry = record.catalogueEntry(store: "main")
        #expect(entry.parentID == 13)
        #expect(entry.dateCreated?.instant == Instant.parse("2026-11-27T20:23:08Z"))
    }
}

@Suite("One dispatcher per database")
struct SyncLockTests {
    @Test("a second `sync` on the same database exits 75 while the first holds the lock, also when it names the database through a symbolic link")
    func secondSyncRefused() throws {
        let tmp = TemporaryDirectory("stocksync-lock")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        #expect(try CLI.run(["store", "connect", "main", "--url", "http://127.0.0.1:9", "--location", "1", "--stock-sync", "on", "--db", db]).status == 0)
        // The lock sits beside the real path (the temporary directory itself may be reached through a link).
        let fd = open(URL(fileURLWithPath: db).resolvingSymlinksInPath().path + ".sync-lock", O_CREAT | O_RDWR, 0o600)
        #expect(flock(fd, LOCK_EX | LOCK_NB) == 0)
        let busy = try CLI.run(["sync", "--once", "--db", db])
        #expect(busy.status == 75)
        #expect(busy.stderr.contains("another 'stocksync sync' is running"))
        // Through a symbolic link to the database: the same database, the same lock.
        let link = tmp.path("link.db")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: db)
        let linked = try CLI.run(["sync", "--once", "--db", link])
        #expect(linked.status == 75 && linked.stderr.contains("another 'stocksync sync' is running"), "\(linked.stderr)")
        flock(fd, LOCK_UN)
        close(fd)
        #expect(try CLI.run(["sync", "--once", "--db", db]).status == 0, "nothing pending, lock free")
        #expect(try CLI.run(["sync", "--once", "--db", link]).status == 0)
    }
}

/// A `stocksync sync` daemon under test, its stderr in a file the test reads while it runs.
final class RunningSync {
    let process = Process()
    let log: String

    init(db: String, credentials: String, log: String, environment: [String: String] = [:]) throws {
        self.log = log
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
        process.arguments = ["sync", "--db", db, "--credentials", credentials]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    /// Waits until `condition` holds, for at most ten seconds or until the daemon ends: a
    /// liveness bound, never a timing the test asserts.
    func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<200 where process.isRunning {
            if try condition() { return true }
            usleep(50_000)
        }
        return try condition()
    }

    /// SIGTERM, as systemd stops it; the exit status.
    func stop() -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { process.terminate() } }
}
