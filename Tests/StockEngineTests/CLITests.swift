import Foundation
import StockDomain
import StockEngine
import StockSyncTesting
import Testing

/// The `stocksync` command line as a user meets it: exit codes and messages of SPEC §7,
/// all-or-nothing ingest, JSON shapes, point-in-time queries. Runs the real binary.
@Suite("stocksync CLI (SPEC §7)", .serialized)
final class CLITests {
    let tmp = TemporaryDirectory("stocksync-cli")
    // Swift Testing makes one instance per test, so this removes every test's files,
    // whether the test passed or stopped at a failed `#require`.
    deinit { tmp.remove() }
    var db: String { tmp.path("s.db") }

    func write(_ name: String, _ lines: [String]) throws -> String {
        let path = tmp.path(name)
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func journalCount() throws -> Int64 { try Journal(path: db, writable: false).head() }

    static let connect = #"{"id":"c1","type":"store.connected","at":"2026-11-26T10:00:00Z","data":{"store":"main","url":"https://shop.example.com","location_id":1,"stock_sync":true}}"#
    static let product = #"{"id":"p1","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":11,"parent_id":0,"sku":"A","date_created":"2025-01-01T00:00:00"}}"#
    static let variant = #"{"id":"v1","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"sku":"A","kind":"product"}}"#
    static let adjust = #"{"id":"a1","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":1,"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":"7.50"}]}}"#

    @Test("--version names the build and the journal schema it writes")
    func version() throws {
        let r = try CLI.run(["--version"])
        #expect(r.status == 0 && r.stdout == "0.1.0 (journal schema \(Journal.schemaVersion))\n", "\(r.stdout)\(r.stderr)")
    }

    @Test("read-only commands on a missing database exit 74 and create nothing")
    func missingDatabase() throws {
        for args in [["stock"], ["outbox"], ["log"], ["store", "list"], ["explain", "A", "--store", "main"], ["replay", "--verify"]] {
            let r = try CLI.run(args + ["--db", db])
            #expect(r.status == 74, "\(args)")
            #expect(r.stderr.contains(db))
        }
        #expect(!FileManager.default.fileExists(atPath: db))
    }

    @Test("only ingest and store connect start a journal: other writers on a missing database exit 74 and create nothing; a path is always a file (no empty, :memory: or URI databases that vanish on close)")
    func missingDatabaseForWriters() throws {
        // A mistyped --db in a cron line must fail loudly, not sync an empty database forever.
        let writers = [["sync", "--once"], ["replay"], ["resync", "--store", "main"], ["store", "reconfigure", "main", "--stock-sync", "off"],
                       ["store", "disconnect", "main"], ["store", "refresh", "main"], ["store", "resume", "main"],
                       ["deliveries", "prune", "--before", "2026-01-01T00:00:00Z"]]
        for args in writers {
            let r = try CLI.run(args + ["--db", db])
            #expect(r.status == 74, "\(args): \(r.stderr)")
            #expect(r.stderr.contains("\(db): no such database"), "\(args)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).isEmpty, "\(args) left a file behind")
        }
        // An ingest whose file is missing fails before the database is opened.
        let missing = try CLI.run(["ingest", "--db", db, tmp.path("absent.jsonl")])
        #expect(missing.status == 74)
        #expect(!FileManager.default.fileExists(atPath: db))
        // An empty path or ":memory:" would be a database that vanishes on close: refused (64).
        for name in ["", ":memory:"] {
            let r = try CLI.run(["ingest", "--db", name, "-"], stdin: Data(Self.variant.utf8))
            #expect(r.status == 64 && r.stderr.contains("names no file"), "'\(name)': \(r.stdout) \(r.stderr)")
        }
        // A path that looks like an SQLite URI is a file name like any other, not an in-memory database.
        let uri = "file:u.db?mode=memory"
        #expect(try CLI.run(["ingest", "--db", uri, "-"], stdin: Data(Self.variant.utf8), directory: tmp.url.path).status == 0)
        #expect(try CLI.run(["log", "--db", uri], directory: tmp.url.path).stdout.contains("variant.upserted"))
        #expect(FileManager.default.fileExists(atPath: tmp.path(uri)))
        try FileManager.default.removeItem(atPath: tmp.path(uri))
        // A store id is an ASCII slug (SPEC §2.1); the Kelvin sign would pass a check by characters as "K".
        for bad in ["", "eu shop", "\u{212A}", "e\u{301}", String(repeating: "a", count: 65)] {
            let r = try CLI.run(["store", "connect", bad, "--url", "https://shop.example.com", "--location", "1", "--stock-sync", "off", "--db", db])
            #expect(r.status == 65 && r.stderr.contains("ASCII letters"), "'\(bad)': \(r.stderr)")
            // Named escaped, not as the "K" it looks like (and that Swift's == takes it for).
            #expect(bad.unicodeScalars.first != "\u{212A}" || r.stderr.contains(#"store id '\u{212A}'"#), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: db), "a refused store id starts no journal")
        let connect = try CLI.run(["store", "connect", "main", "--url", "https://shop.example.com", "--location", "1", "--stock-sync", "off", "--db", db])
        #expect(connect.status == 0, "\(connect.stderr)")
        #expect(try journalCount() == 1)
    }

    @Test("ingest prints the appended and duplicate counts; duplicates are never errors")
    func ingestCounts() throws {
        let file = try write("a.jsonl", [Self.connect, Self.product, "", Self.variant, Self.adjust, Self.adjust])
        let r = try CLI.run(["ingest", "--db", db, file])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("appended 4, duplicates 1"))
        let again = try CLI.run(["ingest", "--db", db, file])
        #expect(again.stdout.hasPrefix("appended 0, duplicates 5"))
    }

    @Test("rule 14: a duplicate id with other content is skipped (exit 0, first event kept) with a warning naming file, line, id and the kept position; the same content in another form is silent")
    func conflictingDuplicates() throws {
        #expect(try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, Self.product, Self.variant, Self.adjust])]).status == 0)
        let stock = try CLI.run(["stock", "--db", db, "--json"]).stdout
        // Same payload, other spelling and source time: nothing the fold reads differs.
        let respelled = Self.adjust.replacingOccurrences(of: #""7.50""#, with: "7.5").replacingOccurrences(of: #""at":"2026-11-26T10:00:00Z""#, with: #""at":"2026-11-26T11:00:00Z""#)
        let same = try CLI.run(["ingest", "--db", db, try write("same.jsonl", [respelled, Self.variant])])
        #expect(same.status == 0 && same.stdout.hasPrefix("appended 0, duplicates 2"), "\(same.stdout)")
        #expect(same.stderr.isEmpty, "\(same.stderr)")
        // A connector that reuses the document's id for its next version loses that version.
        let edited = Self.adjust.replacingOccurrences(of: #""7.50""#, with: "9")
        let lines = [Self.connect, edited] + (1...4).map { #"{"id":"v1","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":\#($0)}}"# }
        let r = try CLI.run(["ingest", "--db", db, try write("edits.jsonl", lines)])
        #expect(r.status == 0 && r.stdout.hasPrefix("appended 0, duplicates 6"), "\(r.stdout)")
        #expect(r.stderr.contains("edits.jsonl:2: event id 'a1' is already in the journal (position 4) with other content"), "\(r.stderr)")
        #expect(r.stderr.contains("edits.jsonl:3: event id 'v1' is already in the journal (position 3)"), "\(r.stderr)")
        #expect(!r.stderr.contains("edits.jsonl:1:") && !r.stderr.contains("edits.jsonl:6:"), "only the first three are named: \(r.stderr)")
        #expect(r.stderr.contains("2 more duplicate ids carried other content") && r.stderr.contains("5 skipped event(s) differ"), "\(r.stderr)")
        #expect(try CLI.run(["stock", "--db", db, "--json"]).stdout == stock, "the first events stand")
    }

    @Test("an id is its whole string: ids that differ only after an escaped NUL are two events, and export keeps them")
    func idsWithNul() throws {
        let lines = ["a", "b"].map { #"{"id":"x\u0000\#($0)","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"sku":"A","kind":"product"}}"# }
        let r = try CLI.run(["ingest", "--db", db, try write("nul.jsonl", lines)])
        #expect(r.stdout.hasPrefix("appended 2, duplicates 0"), "\(r.stdout)")
        let exported = try CLI.run(["log", "--db", db, "--json"]).stdout
        #expect(exported.contains(#""id":"x\u0000a""#) && exported.contains(#""id":"x\u0000b""#), "\(exported)")
    }

    @Test("a byte order mark opening a file or standard input is skipped (RFC 8259; Windows editors write one); anywhere else it is bad JSON")
    func byteOrderMark() throws {
        let mark = "\u{FEFF}"
        let file = try write("bom.jsonl", [mark + Self.connect, Self.variant + "\r"])
        let r = try CLI.run(["ingest", "--db", db, file])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("appended 2, duplicates 0"))
        let piped = try CLI.run(["ingest", "--db", db, "-"], stdin: Data((mark + Self.product + "\n").utf8))
        #expect(piped.stdout.hasPrefix("appended 1, duplicates 0"), "\(piped.stderr)")
        let inside = try CLI.run(["ingest", "--db", db, try write("inside.jsonl", [Self.adjust, mark + Self.adjust])])
        #expect(inside.status == 65)
        #expect(inside.stderr.contains("inside.jsonl:2"), "\(inside.stderr)")
        #expect(try journalCount() == 3)
    }

    @Test("a file saved with Windows line endings ingests: CRLF, blank CRLF lines skipped, a last blank line of CR alone")
    func windowsLineEndings() throws {
        // Joined with "\n", so every line ends "\r\n" except the last, a lone "\r".
        let r = try CLI.run(["ingest", "--db", db, try write("crlf.jsonl", [Self.connect + "\r", "\r", Self.product + "\r", "\r", Self.variant + "\r", "\r"])])
        #expect(r.status == 0 && r.stdout.hasPrefix("appended 3, duplicates 0"), "\(r.stdout)\(r.stderr)")
    }

    @Test("a file that is not JSON Lines says so: a JSON array of events gets the format named, a UTF-16 file its encoding; a line over 16 MiB stops the read (65)")
    func notJSONLines() throws {
        let array = try write("events.json", ["[" + Self.connect + ",", Self.variant + "]"])
        let r = try CLI.run(["ingest", "--db", db, array])
        #expect(r.status == 65 && r.stderr.contains("events.json:1:") && r.stderr.contains("one event object per line, not a JSON array"), "\(r.stderr)")
        // UTF-16, as Windows PowerShell 5 writes it, with its byte order mark or without.
        for (name, encoding) in [("utf16.jsonl", String.Encoding.utf16), ("utf16be.jsonl", .utf16BigEndian)] {
            let path = tmp.path(name)
            try (Self.connect + "\n").write(toFile: path, atomically: true, encoding: encoding)
            let wide = try CLI.run(["ingest", "--db", db, path])
            #expect(wide.status == 65 && wide.stderr.contains("\(name):1: the file is UTF-16"), "\(wide.stderr)")
        }
        // One 17 MiB line: refused once the limit is passed, not read whole.
        let huge = tmp.path("huge.json")
        try Data(repeating: UInt8(ascii: "x"), count: 17 << 20).write(to: URL(fileURLWithPath: huge))
        let long = try CLI.run(["ingest", "--db", db, huge])
        #expect(long.status == 65 && long.stderr.contains("huge.json:1: line longer than 16 MiB"), "\(long.stderr)")
        #expect(try !FileManager.default.fileExists(atPath: db) || journalCount() == 0)
    }

    @Test("a bad line anywhere appends nothing from the whole call and names file, line and field (65)")
    func badLineAppendsNothing() throws {
        let good = try write("good.jsonl", [Self.connect, Self.product])
        let bad = try write("bad.jsonl", [Self.variant, #"{"id":"x","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":1,"updated_at":"2026-11-26T10:00:00Z","location_id":"one","rows":[]}}"#])
        let r = try CLI.run(["ingest", "--db", db, good, bad])
        #expect(r.status == 65)
        #expect(r.stderr.contains("bad.jsonl:2"))
        #expect(r.stderr.contains("data.location_id"))
        #expect(!FileManager.default.fileExists(atPath: db), "a refused first ingest leaves no database")
    }

    @Test("lines are decoded ahead in batches, yet a bad line deep in a big file still names its line and appends nothing")
    func badLineDeepInBigFile() throws {
        func adjustment(_ i: Int) -> String {
            #"{"id":"a\#(i)","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":\#(i),"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":1}]}}"#
        }
        var lines = (1...3_000).map(adjustment)
        lines[2_500] = #"{"id":"broken","type":"stock_adjustment.upserted""#
        let syntax = try CLI.run(["ingest", "--db", db, try write("big.jsonl", lines)])
        #expect(syntax.status == 65)
        #expect(syntax.stderr.contains("big.jsonl:2501"), "\(syntax.stderr)")
        // A state contradiction (a product for a store never connected), after many good lines.
        lines[2_500] = adjustment(2_501)
        lines[1_700] = #"{"id":"p","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"nowhere","woo_id":1,"sku":"A","date_created":null}}"#
        let state = try CLI.run(["ingest", "--db", db, try write("big.jsonl", lines)])
        #expect(state.status == 65)
        #expect(state.stderr.contains("big.jsonl:1701") && state.stderr.contains("nowhere"), "\(state.stderr)")
        #expect(!FileManager.default.fileExists(atPath: db), "a refused first ingest leaves no database")
        lines[1_700] = adjustment(1_701)
        #expect(try CLI.run(["ingest", "--db", db, try write("big.jsonl", lines)]).status == 0)
        #expect(try journalCount() == 3_000)
    }

    @Test("ingest from a pipe holds no write lock while its input is still coming (a fetcher piping events as Katana's API gives them): another writer goes ahead meanwhile; the call then appends all or nothing, naming a bad line <stdin>:LINE")
    func pipedInputHoldsNoLock() throws {
        #expect(try CLI.run(["ingest", "--db", db, try write("c.jsonl", [Self.connect])]).status == 0)
        func startIngest() throws -> (Process, FileHandle) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
            process.arguments = ["ingest", "--db", db, "-"]
            let input = Pipe()
            process.standardInput = input
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return (process, input.fileHandleForWriting)
        }
        let (ingest, input) = try startIngest()
        input.write(Data((Self.variant + "\n").utf8))
        // Give the ingest time to open the database and wait for more (it took its write lock
        // here before); the other writer's result does not depend on this pause.
        usleep(500_000)
        let other = try CLI.run(["store", "connect", "eu", "--url", "https://eu.example.com", "--location", "2", "--stock-sync", "off", "--db", db],
                                environment: ["STOCKSYNC_BUSY_TIMEOUT_MS": "300"])
        #expect(other.status == 0, "\(other.stderr)")
        input.write(Data((Self.adjust + "\n").utf8))
        try input.close()
        ingest.waitUntilExit()
        #expect(ingest.terminationStatus == 0)
        let types = try CLI.run(["log", "--json", "--db", db]).stdout.split(separator: "\n").map { line in
            String(line.split(separator: ",")[2])
        }
        #expect(types == [#""type":"store.connected""#, #""type":"store.connected""#, #""type":"variant.upserted""#, #""type":"stock_adjustment.upserted""#])

        // A contradiction (a product for a store never connected) read from the pipe: named by
        // line once the input ends, and nothing of the call appended.
        let bad = #"{"id":"p","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"nowhere","woo_id":1,"sku":"A","date_created":null}}"#
        let r = try CLI.run(["ingest", "--db", db, "-"], stdin: Data((#"{"id":"a9","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":9,"kind":"product"}}"# + "\n" + bad + "\n").utf8))
        #expect(r.status == 65)
        #expect(r.stderr.contains("<stdin>:2") && r.stderr.contains("nowhere"), "\(r.stderr)")
        #expect(try journalCount() == 4)
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).allSatisfy { !$0.hasPrefix(".stocksync-ingest") }, "no spool file left")
    }

    @Test("bad input of every kind: invalid JSON, wrong type, unknown type and status, state contradictions")
    func badInputKinds() throws {
        _ = try CLI.run(["ingest", "--db", db, try write("base.jsonl", [Self.connect])])
        let cases: [(String, String)] = [
            ("{not json", "invalid JSON"),
            (#"{"id":"x","type":"variant.deleted","at":"2026-11-26T10:00:00Z","data":{"variant_id":"1"}}"#, "data.variant_id"),
            (#"{"id":"x","type":"sales_order.shipped","at":"2026-11-26T10:00:00Z","data":{}}"#, "unknown event type"),
            (#"{"id":"x","type":"purchase_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"OPEN","location_id":1,"rows":[]}}"#, "unknown status 'OPEN'"),
            (#"{"id":"x","type":"store.connected","at":"2026-11-26T10:00:00Z","data":{"store":"main","url":"https://x.example","location_id":1,"stock_sync":true}}"#, "already connected"),
            (#"{"id":"x","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"ghost","woo_id":1,"parent_id":0,"sku":"A","date_created":null}}"#, "unknown store 'ghost'"),
        ]
        for (i, (line, message)) in cases.enumerated() {
            let r = try CLI.run(["ingest", "--db", db, try write("bad\(i).jsonl", [line])])
            #expect(r.status == 65, "\(line)")
            #expect(r.stderr.contains("bad\(i).jsonl:1"), "\(r.stderr)")
            #expect(r.stderr.contains(message), "\(r.stderr)")
        }
        #expect(try journalCount() == 1)
        let missing = try CLI.run(["ingest", "--db", db, tmp.path("nope.jsonl")])
        #expect(missing.status == 74)
    }

    @Test("a corrupt, foreign or newer-schema database file is refused with 74; an empty one or a directory is named as such, and ingest starts a journal in an empty one")
    func badDatabases() throws {
        let corrupt = tmp.path("corrupt.db")
        try Data(repeating: 0x41, count: 4096).write(to: URL(fileURLWithPath: corrupt))
        #expect(try CLI.run(["stock", "--db", corrupt]).status == 74)
        #expect(try CLI.run(["ingest", "--db", corrupt, try write("c.jsonl", [Self.connect])]).status == 74)

        let foreign = tmp.path("foreign.db")
        let f = try SQLiteFixture(path: foreign)
        try f.execute("CREATE TABLE customers (id INTEGER)")
        let r = try CLI.run(["ingest", "--db", foreign, try write("c2.jsonl", [Self.connect])])
        #expect(r.status == 74)
        #expect(r.stderr.contains("not a stocksync database"))

        _ = try CLI.run(["ingest", "--db", db, try write("c3.jsonl", [Self.connect])])
        try SQLiteFixture(path: db).execute("PRAGMA user_version = 99")
        let newer = try CLI.run(["stock", "--db", db])
        #expect(newer.status == 74)
        #expect(newer.stderr.contains("newer"))

        // An empty file (what a refused first ingest leaves): readers say so, ingest starts the journal in it.
        let empty = tmp.path("empty.db")
        try #require(FileManager.default.createFile(atPath: empty, contents: nil))
        let read = try CLI.run(["stock", "--db", empty])
        #expect(read.status == 74 && read.stderr.contains("database is empty"), "\(read.stderr)")
        // A directory given for the file: said so, not SQLite's "disk I/O error".
        for args in [["stock"], ["ingest", try write("c5.jsonl", [Self.connect])]] {
            let directory = try CLI.run(args + ["--db", tmp.url.path])
            #expect(directory.status == 74 && directory.stderr.contains("is a directory; give the database file's path"), "\(args): \(directory.stderr)")
        }
        #expect(try CLI.run(["ingest", "--db", empty, try write("c4.jsonl", [Self.connect])]).status == 0)
    }

    @Test("stock --json has exactly the keys of the issue; --store and --sku filter; --at takes positions and times, and names a store not yet connected then")
    func stockJSON() throws {
        _ = try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, Self.product, Self.variant, Self.adjust])])
        let r = try CLI.run(["stock", "--db", db, "--json"])
        #expect(r.status == 0)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ==
            #"{"position":4,"variants":[{"variant_id":1,"sku":"A","location_id":1,"in_stock":"7.5","committed_total":"0","expected":"0","stores":[{"store":"main","stock_sync":true,"committed_for_sync":"0","synced":7,"match":"sku","woo_id":11,"parent_id":null}]}]}"#)
        let atZero = try CLI.run(["stock", "--db", db, "--json", "--at", "0"])
        #expect(atZero.stdout.hasPrefix(#"{"position":0,"variants":[]}"#))
        let atThree = try CLI.run(["stock", "--db", db, "--json", "--at", "3"])
        #expect(atThree.stdout.hasPrefix(#"{"position":3,"variants":[]}"#))
        #expect(try CLI.run(["stock", "--db", db, "--at", "5"]).status == 65)
        #expect(try CLI.run(["stock", "--db", db, "--at=-1"]).status == 65)
        // Written apart, a value that starts with '-' is still the option's value, not a flag
        // (the argument parser's default would say "Missing value for '--at'").
        let negative = try CLI.run(["stock", "--db", db, "--at", "-1"])
        #expect(negative.status == 65 && negative.stderr.contains("position -1 is negative"), "\(negative.stderr)")
        #expect(try CLI.run(["stock", "--db", db, "--at", "yesterday"]).status == 64)
        let before = try CLI.run(["stock", "--db", db, "--json", "--at", "2000-01-01T00:00:00Z"])
        #expect(before.stdout.hasPrefix(#"{"position":0,"#))
        let after = try CLI.run(["stock", "--db", db, "--json", "--at", "2999-01-01T00:00:00+01:00"])
        #expect(after.stdout.hasPrefix(#"{"position":4,"#))
        #expect(try CLI.run(["stock", "--db", db, "--json", "--sku", "B"]).stdout.hasPrefix(#"{"position":4,"variants":[]}"#))
        #expect(try CLI.run(["stock", "--db", db, "--store", "ghost"]).status == 65)
        // A SKU may start with '-': `--sku -B` looks it up rather than taking it for a flag.
        let dashed = try CLI.run(["ingest", "--db", db, try write("dash.jsonl", [
            #"{"id":"v2","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":2,"sku":"-B","kind":"product"}}"#,
            #"{"id":"a2","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":2,"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":2,"quantity":3}]}}"#])])
        #expect(dashed.status == 0, "\(dashed.stderr)")
        let bySKU = try CLI.run(["stock", "--db", db, "--json", "--sku", "-B"])
        #expect(bySKU.status == 0 && bySKU.stdout.hasPrefix(#"{"position":6,"variants":[{"variant_id":2,"sku":"-B","#), "\(bySKU.stdout)\(bySKU.stderr)")
        let early = try CLI.run(["stock", "--db", db, "--store", "main", "--at", "0"])
        #expect(early.status == 65 && early.stderr.contains("store 'main' was not connected as of journal position 0"), "\(early.stderr)")
        let outbox = try CLI.run(["outbox", "--db", db, "--json"])
        #expect(outbox.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ==
            #"{"pending":[{"store":"main","woo_id":11,"parent_id":null,"quantity":7,"position":4}]}"#)
    }

    @Test("stock --store S shows only rows at S's location, each with S alone under stores; --sku keeps every location of that SKU; both combine")
    func stockFilters() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        // A second store on main's location 1, so that "S alone" is not trivially true.
        #expect(try CLI.run(["store", "connect", "outlet", "--url", "https://outlet.example.com", "--location", "1", "--stock-sync", "off", "--db", db]).status == 0)
        func rows(_ args: [String]) throws -> [(variant: Int, location: Int, stores: [String])] {
            let r = try CLI.run(["stock", "--db", db, "--json"] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            let top = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return (top?["variants"] as? [[String: Any]] ?? []).map { row in
                (row["variant_id"] as? Int ?? -1, row["location_id"] as? Int ?? -1,
                 (row["stores"] as? [[String: Any]] ?? []).map { $0["store"] as? String ?? "?" })
            }
        }
        let all = try rows([])
        #expect(all.contains { $0.location == 1 && $0.stores == ["main", "outlet"] }, "unfiltered rows list every store of the location")
        let main = try rows(["--store", "main"])
        #expect(!main.isEmpty && main.allSatisfy { $0.location == 1 && $0.stores == ["main"] }, "\(main)")
        #expect(main.count == all.filter { $0.location == 1 }.count)
        let eu = try rows(["--store", "eu-shop"])
        #expect(eu.map(\.variant) == [101, 103] && eu.allSatisfy { $0.location == 2 && $0.stores == ["eu-shop"] }, "\(eu)")
        let desk = try rows(["--sku", "DESK-OAK"])
        #expect(desk.map { [$0.variant, $0.location] } == [[101, 1], [101, 2]], "\(desk)")
        let both = try rows(["--store", "eu-shop", "--sku", "CHAIR-BLK"])
        #expect(both.map { [$0.variant, $0.location] } == [[103, 2]] && both.first?.stores == ["eu-shop"], "\(both)")
    }

    @Test("export writes a SKU that a spreadsheet would run as a formula with WooCommerce's ' escape, which its importer takes off; commas and quotes are quoted")
    func exportEscapesFormulas() throws {
        func product(_ id: Int, _ sku: String) -> String {
            #"{"id":"p\#(id)","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":\#(id),"sku":\#(sku),"date_created":null}}"#
        }
        func variant(_ id: Int, _ sku: String) -> String {
            #"{"id":"v\#(id)","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":\#(id),"sku":\#(sku),"kind":"product"}}"#
        }
        let skus = [#""=SUM(A1)""#, #""-7""#, #""a,\"b""#, #""x=1""#]
        let lines = [Self.connect] + skus.enumerated().flatMap { [product(11 + $0.offset, $0.element), variant(1 + $0.offset, $0.element)] }
        #expect(try CLI.run(["ingest", "--db", db, try write("e.jsonl", lines)]).status == 0)
        let csv = try CLI.run(["export", "--store", "main", "--db", db])
        #expect(csv.stdout == "ID,SKU,Stock\n11,'=SUM(A1),0\n12,'-7,0\n13,\"a,\"\"b\",0\n14,x=1,0\n", "\(csv.stdout)")
    }

    @Test("text output shows control characters from outside (an escape sequence in a SKU or an id) as \\u{…} instead of sending them to the terminal; JSON keeps them exact")
    func controlCharactersInText() throws {
        let sku = #"A\u001b[2J\u0007B"#
        let variant = #"{"id":"v\u001b","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"sku":"\#(sku)","kind":"product"}}"#
        #expect(try CLI.run(["ingest", "--db", db, try write("c.jsonl", [Self.connect, variant, Self.adjust])]).status == 0)
        let text = try CLI.run(["stock", "--db", db]).stdout
        #expect(text.contains(#"A\u{1B}[2J\u{7}B"#) && !text.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "\(text.debugDescription)")
        let log = try CLI.run(["log", "--db", db]).stdout
        #expect(log.contains(#"v\u{1B}"#) && !log.unicodeScalars.contains { $0.value == 0x1B }, "\(log.debugDescription)")
        let unknown = try CLI.run(["explain", "X\u{1B}]0;title\u{7}", "--store", "main", "--db", db])
        #expect(unknown.status == 65 && unknown.stderr.contains(#"unknown SKU 'X\u{1B}]0;title\u{7}'"#)
                && !unknown.stderr.unicodeScalars.contains { $0.value == 0x1B }, "\(unknown.stderr.debugDescription)")
        #expect(try CLI.run(["stock", "--db", db, "--json"]).stdout.contains(#""sku":"A\u001b[2J\u0007B""#))
    }

    @Test("--at TIME means the last event recorded at or before it; one ingest call is never split")
    func atRecordedTime() throws {
        _ = try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, Self.product, Self.variant])])
        let between = Instant.now
        Thread.sleep(forTimeInterval: 0.01)
        _ = try CLI.run(["ingest", "--db", db, try write("b.jsonl", [Self.adjust])])
        let r = try CLI.run(["stock", "--db", db, "--json", "--at", between.description])
        #expect(r.stdout.hasPrefix(#"{"position":3,"#), "\(r.stdout)\(r.stderr)")
        // "At or before": the very microsecond an event was recorded includes it.
        let recorded = try #require(Int64(try SQLiteFixture(path: db).strings("SELECT recorded_at FROM journal WHERE position = 4").first ?? ""))
        let exact = try CLI.run(["stock", "--db", db, "--json", "--at", Instant(microseconds: recorded).description])
        #expect(exact.stdout.hasPrefix(#"{"position":4,"#), "\(exact.stdout)\(exact.stderr)")
    }

    /// The clock was an hour ahead when the last call was recorded and has since been set back
    /// (NTP, a VM restored): recorded times must not go backwards, or `--at TIME` could answer
    /// with a state that includes events recorded after TIME.
    @Test("§5 recorded times never go backwards, even when the clock does")
    func recordedTimeIsMonotonic() throws {
        _ = try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, Self.product])])
        let ahead = Instant.now.microseconds + 3_600_000_000
        let raw = try SQLiteFixture(path: db)
        try raw.execute("UPDATE journal SET recorded_at = \(ahead)")
        _ = try CLI.run(["ingest", "--db", db, try write("b.jsonl", [Self.variant])])
        #expect(try raw.strings("SELECT recorded_at FROM journal WHERE position = 3") == [String(ahead)])
        let now = try CLI.run(["stock", "--db", db, "--json", "--at", Instant.now.description])
        #expect(now.stdout.hasPrefix(#"{"position":0,"#), "nothing was recorded before now, as far as the journal knows")
    }

    @Test("log --json | ingest - into a new database reproduces the same state")
    func logRoundTrip() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let exported = try CLI.run(["log", "--db", db, "--json"])
        let copy = tmp.path("copy.db")
        let r = try CLI.run(["ingest", "--db", copy, "-"], stdin: Data(exported.stdout.utf8))
        #expect(r.status == 0)
        for args in [["stock", "--json"], ["outbox", "--json"], ["store", "list", "--json"]] {
            #expect(try CLI.run(args + ["--db", db]).stdout == CLI.run(args + ["--db", copy]).stdout)
        }
        #expect(try CLI.run(["log", "--db", copy, "--json"]).stdout == exported.stdout)
        let page = try CLI.run(["log", "--db", db, "--json", "--from", "3", "--limit", "2"])
        #expect(page.stdout.split(separator: "\n").map { $0.hasPrefix(#"{"position":3"#) || $0.hasPrefix(#"{"position":4"#) } == [true, true])
    }

    @Test("log pages: --from 0 is the first position and --limit counts from there; the largest values neither crash nor wrap")
    func logPaging() throws {
        _ = try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, Self.product, Self.variant])])
        func positions(_ args: [String]) throws -> [String] {
            let r = try CLI.run(["log", "--db", db] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            return r.stdout.split(separator: "\n").map { String($0.prefix { $0 != " " }) }
        }
        #expect(try positions(["--from", "0", "--limit", "1"]) == ["1"])
        #expect(try positions(["--from", "2", "--limit", "1"]) == ["2"])
        #expect(try positions(["--limit", "0"]) == [])
        #expect(try positions(["--from", "2", "--limit", String(Int64.max)]) == ["2", "3"])
        #expect(try positions(["--from", String(Int64.max), "--limit", "2"]) == [])
        #expect(try CLI.run(["log", "--db", db, "--from=-1"]).status == 64)
        for option in ["--from", "--limit"] {
            let negative = try CLI.run(["log", "--db", db, option, "-1"])
            #expect(negative.status == 64 && negative.stderr.contains("\(option) must be ≥ 0"), "\(negative.stderr)")
        }
    }

    @Test("store commands: validation of §2.1 and §2.6 rule 10 (a disconnected store is named as such), an empty reconfigure refused (64), list --json shape, STOCKSYNC_DB")
    func storeCommands() throws {
        let env = ["STOCKSYNC_DB": db]
        #expect(try CLI.run(["store", "connect", "main", "--url", "https://shop.example.com", "--location", "1", "--stock-sync", "on"], environment: env).status == 0)
        #expect(try CLI.run(["store", "connect", "main", "--url", "https://shop.example.com", "--location", "1", "--stock-sync", "on"], environment: env).status == 65)
        let refused = try CLI.run(["store", "connect", "test", "--url", "https://t.example.com", "--location", "2", "--stock-sync", "off", "--katana-orders-reduce-stock", "on"], environment: env)
        #expect(refused.status == 65)
        #expect(try CLI.run(["store", "connect", "bad", "--url", "ftp://x", "--location", "2", "--stock-sync", "off"], environment: env).status == 65)
        #expect(try CLI.run(["store", "connect", "test", "--url", "https://t.example.com", "--location", "2", "--stock-sync", "off"], environment: env).status == 0)
        #expect(try CLI.run(["store", "reconfigure", "test", "--katana-orders-reduce-stock", "on"], environment: env).status == 65)
        #expect(try CLI.run(["store", "reconfigure", "test", "--stock-sync", "on", "--katana-orders-reduce-stock", "off"], environment: env).status == 0)
        #expect(try CLI.run(["store", "reconfigure", "ghost", "--floor-at-zero", "on"], environment: env).status == 65)
        let events = try journalCount()
        let empty = try CLI.run(["store", "reconfigure", "test"], environment: env)
        #expect(empty.status == 64 && empty.stderr.contains("nothing to change"), "\(empty.stderr)")
        #expect(try journalCount() == events, "an empty reconfiguration is not journaled")
        #expect(try CLI.run(["store", "disconnect", "main"], environment: env).status == 0)
        let again = try CLI.run(["store", "disconnect", "main"], environment: env)
        #expect(again.status == 65 && again.stderr.contains("store 'main' is disconnected"), "\(again.stderr)")
        let stock = try CLI.run(["stock", "--store", "main"], environment: env)
        #expect(stock.status == 65 && stock.stderr.contains("--store: store 'main' is disconnected"), "\(stock.stderr)")
        let list = try CLI.run(["store", "list", "--json"], environment: env)
        #expect(list.stdout.trimmingCharacters(in: .whitespacesAndNewlines) ==
            #"{"stores":[{"store":"test","url":"https://t.example.com","location_id":2,"stock_sync":true,"katana_orders_reduce_stock":false,"floor_at_zero":false,"paused":false}]}"#)
        let log = try CLI.run(["log", "--json"], environment: env)
        #expect(!log.stdout.contains("consumer"), "no secrets in the journal")
    }

    @Test("§2.6 rule 10: a store connected again keeps its catalogue, and the CLI says so, warning to refresh when the address differs (also on a reconfigured address)")
    func reconnectKeepsCatalogueAndSaysSo() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        func matches() throws -> [String] {
            let out = try CLI.run(["stock", "--db", db, "--json", "--store", "eu-shop"]).stdout
            return out.components(separatedBy: #""match":"#).dropFirst().map { String($0.prefix { $0 != "," }) }
        }
        let before = try matches()
        #expect(before.contains(#""sku""#))
        #expect(try CLI.run(["store", "disconnect", "eu-shop", "--db", db]).status == 0)
        let same = try CLI.run(["store", "connect", "eu-shop", "--url", "https://eu.example.com", "--location", "2", "--stock-sync", "on", "--db", db])
        #expect(same.status == 0 && same.stderr.contains("keeps the catalogue recorded then (3 products); 'stocksync store refresh eu-shop' brings it up to date"), "\(same.stderr)")
        #expect(!same.stderr.contains("warning"))
        #expect(try matches() == before, "the same matches as before")
        #expect(try CLI.run(["store", "disconnect", "eu-shop", "--db", db]).status == 0)
        let other = try CLI.run(["store", "connect", "eu-shop", "--url", "https://other.example.com", "--location", "2", "--stock-sync", "on", "--db", db])
        #expect(other.status == 0 && other.stderr.contains("warning: store 'eu-shop' was last connected to https://eu.example.com"), "\(other.stderr)")
        let moved = try CLI.run(["store", "reconfigure", "main", "--url", "https://shop2.example.com", "--db", db])
        #expect(moved.status == 0 && moved.stderr.contains("keeps its catalogue (7 products, read from https://shop.example.com)"), "\(moved.stderr)")
        #expect(try CLI.run(["store", "reconfigure", "main", "--floor-at-zero", "on", "--db", db]).stderr.isEmpty)
    }

    @Test("a store URL is the site's address alone: credentials in it are refused without being repeated, and so are a port out of range, a query, a fragment or the REST path")
    func storeURLs() throws {
        let env = ["STOCKSYNC_DB": db]
        for url in ["https://ck_user:cs_s3cret@shop.example.com", "ftp://admin:s3cret@x"] {
            let r = try CLI.run(["store", "connect", "main", "--url", url, "--location", "1", "--stock-sync", "off"], environment: env)
            #expect(r.status == 65 && r.stderr.contains("must not carry credentials"), "\(r.stderr)")
            #expect(!r.stderr.contains("s3cret"), "the password is never repeated")
        }
        for url in ["https://shop.example.com:99999", "https://shop.example.com:0"] {
            let r = try CLI.run(["store", "connect", "main", "--url", url, "--location", "1", "--stock-sync", "off"], environment: env)
            #expect(r.status == 65 && r.stderr.contains("a port is 1 to 65535"), "\(url): \(r.stderr)")
        }
        for url in ["https://shop.example.com?lang=en", "https://shop.example.com/#x", "https://shop.example.com/wp-json/wc/v3"] {
            let r = try CLI.run(["store", "connect", "main", "--url", url, "--location", "1", "--stock-sync", "off"], environment: env)
            #expect(r.status == 65 && r.stderr.contains("give the site's address alone"), "\(url): \(r.stderr)")
        }
        // A WordPress in a subdirectory, an @ in the path, a trailing slash: all fine.
        #expect(try CLI.run(["store", "connect", "main", "--url", "https://example.com/shop/@home/", "--location", "1", "--stock-sync", "off"], environment: env).status == 0)
        let reconfigured = try CLI.run(["store", "reconfigure", "main", "--url", "https://u:s3cret@example.com"], environment: env)
        #expect(reconfigured.status == 65 && !reconfigured.stderr.contains("s3cret"))
        // Events from outside are held to the same: the secret never reaches the journal.
        let line = #"{"id":"r1","type":"store.reconfigured","at":"2026-11-26T10:00:00Z","data":{"store":"main","url":"https://u:s3cret@example.com"}}"#
        let ingested = try CLI.run(["ingest", "--db", db, "-"], stdin: Data(line.utf8))
        #expect(ingested.status == 65 && ingested.stderr.contains("data.url") && !ingested.stderr.contains("s3cret"), "\(ingested.stderr)")
        #expect(try !CLI.run(["log", "--json"], environment: env).stdout.contains("s3cret"))
        #expect(try journalCount() == 1)
    }

    @Test("explain shows the calculation and the match; an unknown SKU exits 65")
    func explain() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let r = try CLI.run(["explain", "DESK-OAK", "--store", "main", "--db", db])
        #expect(r.status == 0)
        #expect(r.stdout.contains("Synced = floor(19 − 5) = 14"))
        #expect(r.stdout.contains("sales order SO-1002"))
        #expect(r.stdout.contains("component of a kit"))
        #expect(r.stdout.contains("Match: SKU \"DESK-OAK\" → WooCommerce product 501"))
        #expect(r.stdout.contains("Pending push: 14, caused by journal position 43 (manufacturing_order.upserted)"), "the cause's type: \(r.stdout)")
        let eu = try CLI.run(["explain", "CHAIR-BLK", "--store", "eu-shop", "--db", db])
        #expect(eu.stdout.contains("not from WooCommerce"))
        #expect(eu.stdout.contains("also carrying the SKU"))
        let past = try CLI.run(["explain", "DESK-OAK", "--store", "main", "--db", db, "--at", "30"])
        #expect(past.stdout.contains("as of journal position 30"))
        let negative = try CLI.run(["explain", "DESK-OAK", "--store", "main", "--db", db, "--at", "-1"])
        #expect(negative.status == 65 && negative.stderr.contains("position -1 is negative"), "\(negative.stderr)")
        // The documents of a past state are rebuilt aside and read back from there.
        #expect(past.stdout.contains("sales order WC-1001 (id 1001, PENDING, source woocommerce)"))
        #expect(past.stdout.contains("+20         inventory reconciliation at position 21"))
        #expect(try CLI.run(["explain", "NOPE", "--store", "main", "--db", db]).status == 65)
        #expect(try CLI.run(["explain", "--variant", "104", "--store", "main", "--db", db]).stdout.contains("linked WooCommerce id 530"))
        #expect(try CLI.run(["store", "reconfigure", "main", "--floor-at-zero", "on", "--db", db]).status == 0)
        let floored = try CLI.run(["explain", "DESK-OAK", "--store", "main", "--db", db]).stdout
        #expect(floored.contains("floor at zero on") && floored.contains("Synced = floor(19 − 5), at least 0 = 14"), "\(floored)")
    }

    @Test("explain lists the latest 20 contributions under a heading and sums the earlier ones into one line; --all lists each")
    func explainLongHistory() throws {
        // 25 adjustments of 1, 2, …, 25: the first five (15 together) are summed by default.
        let adjustments = (1...25).map { n in
            #"{"id":"a\#(n)","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":\#(n),"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":\#(n)}]}}"#
        }
        #expect(try CLI.run(["ingest", "--db", db, try write("h.jsonl", [Self.connect, Self.variant] + adjustments)]).status == 0)
        let short = try CLI.run(["explain", "A", "--store", "main", "--db", db])
        #expect(short.status == 0, "\(short.stderr)")
        let listed = short.stdout.split(separator: "\n").filter { $0.contains("stock adjustment") }
        #expect(listed.count == 20 && listed.first?.hasPrefix("      +6          stock adjustment 6 ") == true, "\(short.stdout)")
        #expect(short.stdout.contains("  In stock: 325\n      +15         5 earlier contributions together (explain --all lists each)\n"), "\(short.stdout)")
        let all = try CLI.run(["explain", "A", "--store", "main", "--all", "--db", db]).stdout
        #expect(all.split(separator: "\n").filter { $0.contains("stock adjustment") }.count == 25 && !all.contains("earlier contributions"), "\(all)")
    }

    @Test("explain names a WooCommerce SKU that differs only in case or spaces when nothing matches: matching stays exact")
    func explainNearMiss() throws {
        let near = #"{"id":"p2","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":12,"parent_id":0,"sku":" a","date_created":"2025-01-01T00:00:00"}}"#
        let other = #"{"id":"p3","type":"woo.product.upserted","at":"2026-11-26T10:00:00Z","data":{"store":"main","woo_id":13,"parent_id":0,"sku":"AB","date_created":"2025-01-01T00:00:00"}}"#
        let upper = #"{"id":"v2","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":1,"sku":"A","kind":"product"}}"#
        #expect(try CLI.run(["ingest", "--db", db, try write("n.jsonl", [Self.connect, near, other, upper])]).status == 0)
        let explained = try CLI.run(["explain", "A", "--store", "main", "--db", db]).stdout
        #expect(explained.contains("Match: none"), "\(explained)")
        #expect(explained.contains(#"WooCommerce product 12 has SKU " a", which differs only in case or spaces"#), "\(explained)")
        #expect(!explained.contains("product 13"), "AB is another SKU, not a near miss")
        // Asked for a SKU no variant carries: the near variants, and the store's products with it.
        let typed = try CLI.run(["explain", " a", "--store", "main", "--db", db])
        #expect(typed.status == 65)
        #expect(typed.stderr.contains(#"unknown SKU ' a' (no declared variant carries it); SKUs that differ only in case or spaces: "A" (variant 1); store 'main' has WooCommerce product 12 with this SKU"#), "\(typed.stderr)")
        let unrelated = try CLI.run(["explain", "ZZ", "--store", "main", "--db", db])
        #expect(unrelated.status == 65 && unrelated.stderr == "stocksync: unknown SKU 'ZZ' (no declared variant carries it)\n", "\(unrelated.stderr)")
    }

    @Test("computed quantities beyond the input limits (0.5 × a rate of 0.333333333, sums past 15 digits) are stored and read back: the next ingest and replay --verify work")
    func computedQuantitiesReadBack() throws {
        let po = #"{"id":"po","type":"purchase_order.upserted","at":"2026-11-26T10:00:00Z","data":{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"NOT_RECEIVED","location_id":1,"rows":[{"row_id":1,"variant_id":1,"quantity":"0.5","conversion_rate":"0.333333333"}]}}"#
        let adjustments = (1...3).map { #"{"id":"big\#($0)","type":"stock_adjustment.upserted","at":"2026-11-26T10:00:00Z","data":{"adjustment_id":\#($0),"updated_at":"2026-11-26T10:00:00Z","location_id":1,"rows":[{"variant_id":2,"quantity":"999999999999999.999999999"}]}}"# }
        #expect(try CLI.run(["ingest", "--db", db, try write("a.jsonl", [Self.connect, po] + adjustments)]).status == 0)
        // A new process loads the stored tables: they must read back.
        let next = try CLI.run(["ingest", "--db", db, try write("b.jsonl", [Self.variant])])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        let stock = try CLI.run(["stock", "--json", "--db", db]).stdout
        #expect(stock.contains(#""expected":"0.1666666665""#) && stock.contains(#""in_stock":"2999999999999999.999999997""#), "\(stock)")
    }

    @Test("reads over lost projection tables answer from the journal and say so; replay rebuilds them; replay --verify detects tampering (exit 1)")
    func replayRecovery() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let expected = try CLI.run(["stock", "--db", db, "--json"]).stdout
        let sql = try SQLiteFixture(path: db)
        try sql.execute("DROP TABLE cells; DROP TABLE outbox")
        let fallback = try CLI.run(["stock", "--db", db, "--json"])
        #expect(fallback.stdout == expected, "reads fall back to the journal")
        #expect(fallback.stderr.contains("projection tables cannot be read") && fallback.stderr.contains("Run 'stocksync replay'"),
                "and say so: every answer replays the journal until the tables are rebuilt")
        #expect(try CLI.run(["replay", "--db", db]).status == 0)
        let rebuilt = try CLI.run(["stock", "--db", db, "--json"])
        #expect(rebuilt.stdout == expected && rebuilt.stderr.isEmpty)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        try sql.execute("UPDATE cells SET in_stock = '999' WHERE variant_id = 101 AND location_id = 1")
        let verify = try CLI.run(["replay", "--verify", "--db", db])
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("stock row"))
    }

    @Test("replay over intact tables rewrites nothing; over tampered ones it corrects exactly the rows that differ")
    func replayCorrectsOnlyDifferingRows() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let expected = try CLI.run(["stock", "--db", db, "--json"]).stdout
        let intact = try CLI.run(["replay", "--db", db])
        #expect(intact.status == 0 && intact.stdout.contains("(0 stored rows corrected)"), "\(intact.stdout)")
        // One changed cell, one changed document record, one row that should not exist, one lost.
        try SQLiteFixture(path: db).execute("""
            UPDATE cells SET in_stock = '999' WHERE variant_id = 101 AND location_id = 1;
            UPDATE documents SET position = position + 1 WHERE (kind, id) = (SELECT kind, id FROM documents ORDER BY kind, id LIMIT 1);
            INSERT INTO held VALUES ('nowhere', 1, 5);
            DELETE FROM catalogue WHERE woo_id = 501;
            """)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 1)
        let repaired = try CLI.run(["replay", "--db", db])
        #expect(repaired.stdout.contains("(4 stored rows corrected)"), "\(repaired.stdout)")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        #expect(try CLI.run(["stock", "--db", db, "--json"]).stdout == expected)
        #expect(try CLI.run(["replay", "--db", db]).stdout.contains("(0 stored rows corrected)"))
    }

    @Test("replay --verify finds a difference in each stored table alone and names it: stock rows, pending pushes, held values, catalogue, stores, variants, document records")
    func verifyNamesEachTable() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let sql = try SQLiteFixture(path: db)
        // One table at a time: a verify that compared only some tables would pass the others.
        let tampering: [(sql: String, named: String)] = [
            ("UPDATE cells SET in_stock = '999' WHERE variant_id = 101 AND location_id = 1", "stock row"),
            ("UPDATE outbox SET quantity = quantity + 1 WHERE store = 'main' AND woo_id = 501", "pending push"),
            ("INSERT INTO held VALUES ('main', 501, 5)", "held value"),
            ("DELETE FROM catalogue WHERE store = 'main' AND woo_id = 501", "catalogue product"),
            ("UPDATE stores SET floor_at_zero = 1 - floor_at_zero WHERE store = 'main'", "store"),
            ("DELETE FROM variants WHERE variant_id = 102", "variant"),
            ("UPDATE documents SET position = position + 1 WHERE (kind, id) = (SELECT kind, id FROM documents ORDER BY kind, id LIMIT 1)", "document"),
        ]
        for (change, named) in tampering {
            try sql.execute(change)
            let verify = try CLI.run(["replay", "--verify", "--db", db])
            #expect(verify.status == 1, "\(named): \(verify.stderr)")
            #expect(verify.stderr.contains(named), "\(named): \(verify.stderr)")
            #expect(try CLI.run(["replay", "--db", db]).stdout.contains("(1 stored row corrected)"), "\(named)")
            #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0, "\(named)")
        }
    }

    @Test("an ingest over stale projection tables rebuilds them from the journal first, even when it appends nothing")
    func ingestRebuildsStaleProjections() throws {
        _ = try CLI.run(["ingest", "--db", db, Checkout.fixtures.appendingPathComponent("demo/history.jsonl").path])
        let expected = try CLI.run(["stock", "--db", db, "--json"]).stdout
        // As if a crash or a restore had left the tables behind the journal.
        try SQLiteFixture(path: db).execute("UPDATE projection_meta SET value = 3 WHERE key = 'position'; DELETE FROM cells; DELETE FROM documents")
        // A call whose only line is a duplicate: it appends nothing, yet commits the rebuild.
        let history = try String(contentsOf: Checkout.fixtures.appendingPathComponent("demo/history.jsonl"), encoding: .utf8)
        let file = tmp.path("dup.jsonl")
        try String(history.prefix { $0 != "\n" }).write(toFile: file, atomically: true, encoding: .utf8)
        let ingest = try CLI.run(["ingest", "--db", db, file])
        #expect(ingest.status == 0 && ingest.stdout.contains("duplicates 1"), "\(ingest.stdout)")
        #expect(ingest.stderr.contains("rebuilding from the journal"), "\(ingest.stderr)")
        #expect(try CLI.run(["stock", "--db", db, "--json"]).stdout == expected)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }

    @Test("replay of a tampered journal stops at the first event that no longer applies, in either stage, names it (exit 1) and changes nothing")
    func replayRefusesTamperedJournal() throws {
        let kit = #"{"id":"k1","type":"variant.upserted","at":"2026-11-26T10:00:00Z","data":{"variant_id":2,"sku":"K","kind":"product","components":[{"variant_id":1,"quantity":999999999999999}]}}"#
        let file = tmp.path("a.jsonl")
        try [CLITests.connect, CLITests.product, CLITests.variant, CLITests.adjust, kit].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        let expected = try CLI.run(["stock", "--db", db, "--json"]).stdout
        let sql = try SQLiteFixture(path: db)
        // Rows written behind the engine's back, as version 2 wrote them (JSON text). The
        // document stage refuses the order (the kit's component quantity overflows), the stock
        // stage the connection (the store is connected already): whichever comes first is named.
        let order = ("x-order", "sales_order.upserted", #"{"order_id":1,"updated_at":"2026-11-26T10:00:00Z","status":"PENDING","location_id":1,"source":"katana","rows":[{"row_id":1,"variant_id":2,"quantity":999999999999999}]}"#)
        let store = ("x-store", "store.connected", #"{"store":"main","url":"https://shop.example.com","location_id":1,"stock_sync":true}"#)
        for rows in [[order, store], [store, order]] {
            try sql.execute("DELETE FROM journal WHERE position > 5")
            for (i, (id, type, data)) in rows.enumerated() {
                try sql.execute("INSERT INTO journal VALUES (\(6 + i), '\(id)', '\(type)', '2026-11-26T10:00:00Z', 0, '\(data)')")
            }
            let replay = try CLI.run(["replay", "--db", db])
            #expect(replay.status == 1, "\(replay.stderr)")
            #expect(replay.stderr.contains("replay failed at position 6 (\(rows[0].0))"), "\(replay.stderr)")
        }
        try sql.execute("DELETE FROM journal WHERE position > 5")
        #expect(try CLI.run(["stock", "--db", db, "--json"]).stdout == expected, "the failed replays changed nothing")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }

    @Test("demo: two sandbox stores synced over HTTP end up holding what Katana says, plus an explain")
    func demo() throws {
        let r = try CLI.run(["demo"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("sync exit code 0"))
        #expect(r.stdout.contains("Synced = floor(19 − 5) = 14"))
        // Every synced row of the before/after table: AFTER (read back over HTTP) equals KATANA SAYS.
        let rows = r.stdout.split(separator: "\n").filter { $0.hasPrefix("main ") || $0.hasPrefix("eu-shop ") }
        #expect(rows.count >= 8)
        for row in rows where !row.hasSuffix("not synced") {
            let cells = row.split(separator: " ", omittingEmptySubsequences: true)
            #expect(cells[cells.count - 1] == cells[cells.count - 2], "\(row)")
        }
    }
}

@Suite("One writer at a time (SQLite's lock)", .serialized)
struct WriterLockTests {
    @Test("a writer that cannot get the lock before the busy timeout exits 75 and appends nothing; a timeout that is not a number is named")
    func busyDatabase() throws {
        let tmp = TemporaryDirectory("stocksync-lock")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        let file = tmp.path("a.jsonl")
        try CLITests.connect.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["store", "connect", "x", "--url", "https://x.example", "--location", "1", "--stock-sync", "off", "--db", db]).status == 0)
        let holder = try SQLiteFixture(path: db)
        try holder.execute("BEGIN IMMEDIATE")
        let r = try CLI.run(["ingest", "--db", db, file], environment: ["STOCKSYNC_BUSY_TIMEOUT_MS": "100"])
        try holder.execute("ROLLBACK")
        #expect(r.status == 75, "\(r.stderr)")
        #expect(r.stderr.contains("busy"))
        #expect(try Journal(path: db, writable: false).head() == 1)
        // A timeout that is not a number is said to be ignored, not ignored silently.
        let unreadable = try CLI.run(["stock", "--db", db], environment: ["STOCKSYNC_BUSY_TIMEOUT_MS": "5s"])
        #expect(unreadable.status == 0 && unreadable.stderr.contains("STOCKSYNC_BUSY_TIMEOUT_MS='5s' is not a number of milliseconds"), "\(unreadable.stderr)")
    }
}

@Suite("A new journal appears whole or not at all", .serialized)
struct NewJournalTests {
    @Test("a first ingest that fails (a line the state refuses, a bad piped line) leaves no database behind, nor its draft; one that succeeds leaves the database alone")
    func refusedFirstWrite() throws {
        let tmp = TemporaryDirectory("stocksync-new")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        let bad = tmp.path("bad.jsonl")
        // Valid JSON, refused by the state: it is only found while appending.
        try #"{"id":"d1","type":"store.disconnected","at":"2026-11-26T10:00:00Z","data":{"store":"x"}}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["ingest", "--db", db, bad])
        #expect(refused.status == 65 && refused.stderr.contains("unknown store 'x'"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path) == ["bad.jsonl"])
        // Nothing was created, so a read-only command still finds no database.
        #expect(try CLI.run(["stock", "--db", db]).status == 74)
        let piped = try CLI.run(["ingest", "--db", db, "-"], stdin: Data("\(CLITests.variant)\nnot json\n".utf8))
        #expect(piped.status == 65 && piped.stderr.contains("<stdin>:2"), "\(piped.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path) == ["bad.jsonl"])
        let good = try CLI.run(["ingest", "--db", db, "-"], stdin: Data(CLITests.variant.utf8))
        #expect(good.status == 0, "\(good.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).sorted() == ["bad.jsonl", "s.db"])
        #expect(try Journal(path: db, writable: false).head() == 1)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }

    @Test("--db naming a symbolic link with no file behind it yet: the first ingest creates the file the link names, and the link stays")
    func firstWriteThroughLink() throws {
        let tmp = TemporaryDirectory("stocksync-new")
        defer { tmp.remove() }
        try FileManager.default.createDirectory(atPath: tmp.path("data"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: tmp.path("s.db"), withDestinationPath: "data/real.db")
        let r = try CLI.run(["ingest", "--db", tmp.path("s.db"), "-"], stdin: Data(CLITests.variant.utf8))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: tmp.path("s.db")) == "data/real.db")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path("data")) == ["real.db"])
        #expect(try Journal(path: tmp.path("data/real.db"), writable: false).head() == 1)
    }

    @Test("an abandoned draft (a first ingest killed midway) is removed by the next first write; a draft still being written is left alone")
    func abandonedDrafts() throws {
        let tmp = TemporaryDirectory("stocksync-new")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        for name in [".s.db.new-dead0001", ".s.db.new-dead0001-wal", ".s.db.new-dead0001-shm"] {
            #expect(FileManager.default.createFile(atPath: tmp.path(name), contents: Data("x".utf8)))
        }
        // Another database's draft, and a live one: the lock of the process writing it.
        #expect(FileManager.default.createFile(atPath: tmp.path(".t.db.new-other001"), contents: Data()))
        #expect(FileManager.default.createFile(atPath: tmp.path(".s.db.new-live0001"), contents: Data()))
        let live = open(tmp.path(".s.db.new-live0001"), O_RDONLY)
        defer { close(live) }
        #expect(flock(live, LOCK_EX | LOCK_NB) == 0)
        let r = try CLI.run(["store", "connect", "main", "--url", "https://shop.example.com", "--location", "1", "--stock-sync", "off", "--db", db])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).sorted() == [".s.db.new-live0001", ".t.db.new-other001", "s.db"])
    }

    @Test("a database another process creates while the first write is drafted is kept: the call exits 75 with nothing written")
    func createdMeanwhile() throws {
        let tmp = TemporaryDirectory("stocksync-new")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        let file = tmp.path("v.jsonl")
        try CLITests.variant.write(toFile: file, atomically: true, encoding: .utf8)
        let lost = CLITests.connect.replacingOccurrences(of: "c1", with: "c2")
        try lost.write(toFile: tmp.path("c.jsonl"), atomically: true, encoding: .utf8)
        do {
            _ = try Journal.write(creatingIfMissing: db) { journal throws(EngineError) in
                let summary = try journal.ingest([tmp.path("c.jsonl")])
                // Another process starts the journal meanwhile.
                _ = try Journal(path: db, writable: true, creating: true).ingest([file])
                return summary
            }
            Issue.record("the call replaced or joined the other process's database")
        } catch {
            #expect(error.kind == .temporary && error.message.contains("another process created this database meanwhile"), "\(error)")
        }
        let kept = try Journal(path: db, writable: false)
        #expect(try kept.head() == 1 && kept.event(at: 1)?.id == "v1")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.url.path).filter { $0.hasPrefix(".") }.isEmpty)
    }
}

@Suite("Schema versions and forward migrations")
struct MigrationTests {
    /// A database with three events written by this build, and its export.
    static func threeEvents(_ tmp: TemporaryDirectory) throws -> (db: String, file: String, export: String) {
        let db = tmp.path("s.db")
        let file = tmp.path("a.jsonl")
        try [CLITests.connect, CLITests.product, CLITests.variant].joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        return (db, file, try CLI.run(["log", "--json", "--db", db]).stdout)
    }

    @Test("a version-2 journal (JSON payloads) migrates on the next write, exports the same bytes and replays; new events are stored binary")
    func readsVersion2Payloads() throws {
        let tmp = TemporaryDirectory("stocksync-v2")
        defer { tmp.remove() }
        let (db, file, before) = try Self.threeEvents(tmp)
        let stockBefore = try CLI.run(["stock", "--json", "--db", db]).stdout
        let fixture = try SQLiteFixture(path: db)
        try fixture.rewriteJournalPayloadsAsJSON()
        try fixture.execute("PRAGMA user_version = 2")
        #expect(try fixture.strings("SELECT DISTINCT typeof(data) FROM journal") == ["text"])
        // Version 4 changed how document records are stored: reads wait for a write to migrate.
        let read = try CLI.run(["stock", "--db", db])
        #expect(read.status == 74 && read.stderr.contains("stocksync replay"))
        #expect(try CLI.run(["replay", "--db", db]).status == 0)
        #expect(try fixture.strings("PRAGMA user_version") == ["\(Journal.schemaVersion)"])
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout == before)
        #expect(try CLI.run(["stock", "--json", "--db", db]).stdout == stockBefore)
        try CLITests.adjust.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        #expect(try fixture.strings("SELECT typeof(data) FROM journal ORDER BY position") == ["text", "text", "text", "blob"])
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout.hasPrefix(before))
        // Duplicates are compared with the JSON payloads version 2 stored.
        try (before + CLITests.variant.replacingOccurrences(of: #""sku":"A""#, with: #""sku":"B""#)).write(toFile: file, atomically: true, encoding: .utf8)
        let again = try CLI.run(["ingest", "--db", db, file])
        #expect(again.stdout.hasPrefix("appended 0, duplicates 4"), "\(again.stdout)")
        #expect(again.stderr.contains("a.jsonl:4: event id 'v1' is already in the journal (position 3)") && again.stderr.contains("1 skipped event(s) differ"), "\(again.stderr)")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        #expect(try CLI.run(["replay", "--db", db]).status == 0)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }

    @Test("a version-3 database (fixed-width document effects) is migrated by the next write, even one that appends nothing: projections rebuilt from the journal, same stock")
    func migrateFromVersion3() throws {
        let tmp = TemporaryDirectory("stocksync-v3")
        defer { tmp.remove() }
        let (db, file, before) = try Self.threeEvents(tmp)
        try CLITests.adjust.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        let stockBefore = try CLI.run(["stock", "--json", "--db", db]).stdout
        let fixture = try SQLiteFixture(path: db)
        #expect(try fixture.strings("SELECT count(*) FROM documents") == ["1"])
        // What version 3 stored: one 33-byte record per effect, which this build cannot read.
        try fixture.execute("UPDATE documents SET effects = zeroblob(33); PRAGMA user_version = 3")
        #expect(try CLI.run(["stock", "--db", db]).status == 74)
        // A write that appends nothing still leaves rebuilt projections behind.
        let sync = try CLI.run(["sync", "--once", "--db", db, "--credentials", tmp.path("none.json")])
        #expect(sync.stderr.contains("projections rebuilt from the journal (4 events)"), "\(sync.stderr)")
        #expect(try fixture.strings("PRAGMA user_version") == ["\(Journal.schemaVersion)"])
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        #expect(try CLI.run(["stock", "--json", "--db", db]).stdout == stockBefore)
        let more = #"{"id":"adj-2","type":"stock_adjustment.upserted","at":"2026-11-26T10:05:00Z","data":{"adjustment_id":2,"updated_at":"2026-11-26T10:05:00Z","location_id":1,"rows":[{"variant_id":1,"quantity":1}]}}"#
        try more.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout.hasPrefix(before))
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }

    @Test("a version-1 database is refused by read-only commands (74) and migrated by the next write, journal intact")
    func migrateFromVersion1() throws {
        let tmp = TemporaryDirectory("stocksync-migrate")
        defer { tmp.remove() }
        let (db, file, before) = try Self.threeEvents(tmp)
        // Turn it back into what version 1 wrote: no operational tables.
        try SQLiteFixture(path: db).execute("DROP TABLE deliveries; DROP TABLE store_status; DROP TABLE in_flight; PRAGMA user_version = 1")
        let read = try CLI.run(["stock", "--db", db])
        #expect(read.status == 74 && read.stderr.contains("needs migrating"))
        try CLITests.adjust.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", "--db", db, file]).status == 0)
        #expect(try CLI.run(["deliveries", "--db", db]).status == 0, "version 2's tables exist")
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout.hasPrefix(before))
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }
}

/// Commands an operator runs around the engine: copies of the database and the delivery
/// log's retention.
@Suite("Operator commands: backup and delivery-log retention")
struct OperatorCommandTests {
    @Test("deliveries prune --before T deletes the attempts recorded before T and nothing else; a future or unreadable time deletes nothing")
    func pruneDeliveries() throws {
        let tmp = TemporaryDirectory("stocksync-prune")
        defer { tmp.remove() }
        let (db, _, before) = try MigrationTests.threeEvents(tmp)
        // Two attempts, 2026-01-01 and 2026-06-01 (microseconds since 1970).
        try SQLiteFixture(path: db).execute("""
            INSERT INTO deliveries (at, store, woo_id, parent_id, sku, position, sent, http_status, error_code, echoed)
            VALUES (1767225600000000, 'main', 11, NULL, 'A', 3, 5, 200, NULL, 5), (1780272000000000, 'main', 11, NULL, 'A', 3, 4, 200, NULL, 4)
            """)
        let future = try CLI.run(["deliveries", "prune", "--before", "2999-01-01T00:00:00Z", "--db", db])
        #expect(future.status == 65 && future.stderr.contains("in the future"))
        let unreadable = try CLI.run(["deliveries", "prune", "--before", "last year", "--db", db])
        #expect(unreadable.status == 64 && unreadable.stderr.contains("--before"))
        #expect(try CLI.run(["deliveries", "--json", "--db", db]).stdout.components(separatedBy: #""sent""#).count == 3, "nothing deleted yet")

        let pruned = try CLI.run(["deliveries", "prune", "--before", "2026-03-01T01:00:00+01:00", "--db", db])
        #expect(pruned.status == 0)
        #expect(pruned.stdout == "pruned 1 deliveries recorded before 2026-03-01T01:00:00+01:00, 1 remain\n")
        let left = try CLI.run(["deliveries", "--json", "--db", db]).stdout
        #expect(left.contains(#""sent":4"#) && !left.contains(#""sent":5"#))
        // "Before" is strict: the attempt recorded at that very instant stays.
        let atInstant = try CLI.run(["deliveries", "prune", "--before", "2026-06-01T02:00:00+02:00", "--db", db])
        #expect(atInstant.stdout == "pruned 0 deliveries recorded before 2026-06-01T02:00:00+02:00, 1 remain\n", "\(atInstant.stdout)")
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout == before, "the journal is untouched")
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
    }
    @Test("backup PATH: a copy with the same journal, state and delivery log, in WAL mode; an existing file is never overwritten (74)")
    func backup() throws {
        let tmp = TemporaryDirectory("stocksync-backup")
        defer { tmp.remove() }
        let (db, _, log) = try MigrationTests.threeEvents(tmp)
        try SQLiteFixture(path: db).execute("""
            INSERT INTO deliveries (at, store, woo_id, parent_id, sku, position, sent, http_status, error_code, echoed)
            VALUES (1767225600000000, 'main', 11, NULL, 'A', 3, 5, 200, NULL, 5)
            """)
        let copy = tmp.path("copy.db")
        let made = try CLI.run(["backup", copy, "--db", db])
        #expect(made.status == 0 && made.stdout.contains("through position 3"), "\(made.stderr)")
        #expect(try CLI.run(["log", "--json", "--db", copy]).stdout == log)
        #expect(try CLI.run(["stock", "--json", "--db", copy]).stdout == CLI.run(["stock", "--json", "--db", db]).stdout)
        #expect(try CLI.run(["deliveries", "--json", "--db", copy]).stdout == CLI.run(["deliveries", "--json", "--db", db]).stdout)
        #expect(try CLI.run(["replay", "--verify", "--db", copy]).status == 0)
        #expect(try SQLiteFixture(path: copy).strings("PRAGMA journal_mode") == ["wal"])

        let other = tmp.path("other.db")
        try "not a database".write(toFile: other, atomically: true, encoding: .utf8)
        let refused = try CLI.run(["backup", other, "--db", db])
        #expect(refused.status == 74 && refused.stderr.contains("never overwrites"))
        #expect(try String(contentsOfFile: other, encoding: .utf8) == "not a database")
        #expect(try CLI.run(["backup", tmp.path("x.db"), "--db", tmp.path("missing.db")]).status == 74)
        let directory = try CLI.run(["backup", tmp.path("x.db"), "--db", tmp.url.path])
        #expect(directory.status == 74 && directory.stderr.contains("is a directory"), "\(directory.stderr)")
        let unwritable = try CLI.run(["backup", tmp.path("no-such-directory/x.db"), "--db", db])
        #expect(unwritable.status == 74 && unwritable.stderr.contains("cannot create the backup"))

        // A file an older build wrote is copied as it is, before this build migrates it.
        try SQLiteFixture(path: db).execute("DROP TABLE deliveries; DROP TABLE store_status; DROP TABLE in_flight; PRAGMA user_version = 1")
        let old = tmp.path("old-copy.db")
        #expect(try CLI.run(["backup", old, "--db", db]).status == 0)
        #expect(try SQLiteFixture(path: old).strings("PRAGMA user_version") == ["1"])
        #expect(try CLI.run(["log", "--json", "--db", old]).status == 74, "read-only commands still ask for the migration")
        let foreign = tmp.path("foreign.db")
        try SQLiteFixture(path: foreign).execute("CREATE TABLE t (x)")
        let refusedForeign = try CLI.run(["backup", tmp.path("y.db"), "--db", foreign])
        #expect(refusedForeign.status == 74 && refusedForeign.stderr.contains("not a stocksync database"))
        #expect(!FileManager.default.fileExists(atPath: tmp.path("y.db")))
    }

    @Test("a backup that fails midway (the disk fills) exits 74 and leaves no file behind; the database is untouched")
    func backupFailingMidway() throws {
        let tmp = TemporaryDirectory("stocksync-backup-full")
        defer { tmp.remove() }
        let db = tmp.path("s.db")
        // About 4 MB of database, so the copy outgrows the 256 KiB limit well inside VACUUM INTO.
        let history = tmp.path("h.jsonl")
        try CrashTests.paddedVariants(1...4_000).write(toFile: history, atomically: true, encoding: .utf8)
        #expect(try CLI.run(["ingest", history, "--db", db]).status == 0)
        let log = try CLI.run(["log", "--json", "--db", db]).stdout

        let copy = tmp.path("copy.db")
        let full = try CLI.run(["backup", copy, "--db", db], fileSizeLimitKiB: 256)
        #expect(full.status == 74, "\(full.stderr)")
        #expect(full.stderr.contains("cannot write the backup (nothing was kept)"), "\(full.stderr)")
        for suffix in ["", "-wal", "-shm", "-journal"] {
            #expect(!FileManager.default.fileExists(atPath: copy + suffix), "\(suffix) left behind")
        }
        #expect(try CLI.run(["log", "--json", "--db", db]).stdout == log)
        #expect(try CLI.run(["replay", "--verify", "--db", db]).status == 0)
        // Without the limit the same command succeeds: the failure above was the disk's.
        #expect(try CLI.run(["backup", copy, "--db", db]).status == 0)
    }
}
