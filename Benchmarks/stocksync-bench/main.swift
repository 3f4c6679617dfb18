// stocksync-bench: measures ingest, replay and point-in-time query throughput on a seeded
// synthetic history, beside a bare-SQLite baseline on the same rows in the same run.
//
//   swift run -c release stocksync-bench [--events N] [--variants V] [--seed S] [--json] [--keep DIR]
import AsyncHTTPClient
import Foundation
import NIOPosix
import SQLite
import StockSyncService
import WooCommerce
import WooCommerceSandbox
import StockDomain
import StockEngine
import StockSyncTesting

struct Options {
    var events = 1_000_000
    /// The catalogue's size, which sets the fold's working set (cells, document records).
    var variants = 10_000
    var seed: UInt64 = 42
    var json = false
    var keep: String? = nil

    init(_ args: [String]) {
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else { fail("missing value for \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--events": events = Int(value()) ?? { fail("--events takes an integer") }()
            case "--variants":
                variants = Int(value()) ?? { fail("--variants takes an integer") }()
                guard (10...1_000_000).contains(variants) else { fail("--variants must be between 10 and 1,000,000") }
            case "--seed": seed = UInt64(value()) ?? { fail("--seed takes an integer") }()
            case "--json": json = true
            case "--keep": keep = value()
            case "-h", "--help":
                print("usage: stocksync-bench [--events N] [--variants V] [--seed S] [--json] [--keep DIR]")
                exit(0)
            default: fail("unknown argument \(args[i])")
            }
            i += 1
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("stocksync-bench: \(message)\n".utf8))
    exit(64)
}

/// Drains the outbox once, timed. Nonisolated, so the non-Sendable journal stays in one context.
nonisolated func drain(_ journal: Journal, _ credentials: CredentialsFile, _ http: HTTPClient) async throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    let dispatcher = Dispatcher(journal: journal, credentials: credentials, http: http)
    _ = try await dispatcher.runOnce(stores: ["bench"])
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func peakRSSBytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss * 1024
}

func log(_ s: String, _ quiet: Bool) { if !quiet { FileHandle.standardError.write(Data((s + "\n").utf8)) } }

let options = Options(Array(CommandLine.arguments.dropFirst()))
let dir = options.keep.map { URL(fileURLWithPath: $0) } ?? FileManager.default.temporaryDirectory.appendingPathComponent("stocksync-bench-\(UUID().uuidString)")
try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
defer { if options.keep == nil { try? FileManager.default.removeItem(at: dir) } }

// 1. Generate the history (10,000 variants unless told, 3 locations, 2 stores), streamed to a file.
let historyPath = dir.appendingPathComponent("history.jsonl").path
_ = FileManager.default.createFile(atPath: historyPath, contents: nil)
guard let out = FileHandle(forWritingAtPath: historyPath) else { fail("cannot write \(historyPath)") }
var generator = HistoryGenerator(seed: options.seed, shape: .init(variants: options.variants, locations: 3, stores: 2))
var buffer = ""
var lines = 0
for line in generator.preamble() where lines < options.events { buffer += line + "\n"; lines += 1 }
while lines < options.events {
    buffer += generator.next() + "\n"
    lines += 1
    if buffer.utf8.count > 1 << 20 { out.write(Data(buffer.utf8)); buffer = "" }
}
out.write(Data(buffer.utf8))
try out.close()
log("generated \(lines) events", options.json)

// 2. Ingest: parse + validate + append + projections + outbox, one transaction.
let dbPath = dir.appendingPathComponent("bench.db").path
let journal = try Journal(path: dbPath, writable: true)
var summary: Journal.AppendSummary!
let ingestSeconds = try seconds { summary = try journal.ingest([historyPath]) }
log("ingest: \(summary.appended) appended, \(summary.duplicates) duplicates in \(String(format: "%.2f", ingestSeconds)) s", options.json)

// 3. Replay: rebuild projections and outbox from the journal alone.
let head = try journal.head()
// Over the tables ingest just wrote: replay compares every row and corrects none (over lost
// tables it would write them all, about half a second more at 1,000,000 events).
var rebuilt: Rebuilt!
let replaySeconds = try seconds { rebuilt = try journal.rebuild() }
log("replay: \(head) events in \(String(format: "%.2f", replaySeconds)) s, \(rebuilt.rowsCorrected) stored rows corrected", options.json)

// 4. A point-in-time stock query (half-way through the journal).
var rowCount = 0
let stockAtSeconds = try seconds {
    let view = try journal.state(at: .position(head / 2))
    rowCount = try view.projection.stockRows().count
}
log("stock --at \(head / 2): \(rowCount) rows in \(String(format: "%.0f", stockAtSeconds * 1000)) ms", options.json)
let peak = peakRSSBytes()

// Phase breakdown (text output only), on the first 200,000 events held in memory, so it cannot
// distort anything measured above: JSON decoding (ingest's parser), binary payload decoding
// (replay's reader), and the fold alone with documents in memory.
var jsonRate = 0.0, binaryRate = 0.0, foldRate = 0.0
if !options.json {
    let sampleLimit = 200_000
    let handle = FileHandle(forReadingAtPath: historyPath)
    let text = handle?.readData(ofLength: 96 << 20) ?? Data()
    try? handle?.close()
    var lineRanges: [Range<Int>] = []
    text.withUnsafeBytes { raw in
        var start = 0
        for i in 0..<raw.count where raw[i] == 0x0A && lineRanges.count < sampleLimit {
            lineRanges.append(start..<i)
            start = i + 1
        }
    }
    var jsonDecoded = 0
    let jsonSeconds = seconds {
        text.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            for r in lineRanges where (try? EventCodec.decodeLine(UnsafeBufferPointer(rebasing: bytes[r]))) != nil { jsonDecoded += 1 }
        }
    }
    jsonRate = Double(lineRanges.count) / jsonSeconds
    var blobs: [[UInt8]] = []
    let sample = try Database(path: dbPath, mode: .readOnly)
    let rows = try sample.prepare("SELECT data FROM journal ORDER BY position LIMIT \(sampleLimit)")
    while try rows.step() { blobs.append(rows.blob(0)) }
    var payloads: [EventPayload] = []
    payloads.reserveCapacity(blobs.count)
    let binarySeconds = seconds {
        for b in blobs { if let p = try? b.withUnsafeBytes({ raw throws(EventError) in try BinaryPayload.decode(raw) }) { payloads.append(p) } }
    }
    binaryRate = Double(blobs.count) / binarySeconds
    var projection = Projection()
    projection.tracksChanges = false
    var documents = InMemoryDocuments()
    let foldSeconds = seconds {
        for (i, p) in payloads.enumerated() { try? projection.apply(p, at: Int64(i + 1), documents: &documents) }
    }
    foldRate = Double(payloads.count) / foldSeconds
}

// 5. Bare SQLite on the same rows: one prepared INSERT in batched transactions, one SELECT loop.
let baseline = try Database(path: dir.appendingPathComponent("baseline.db").path)
// SQLite's own defaults (4 KiB pages), a fixed yardstick for the machine: the engine's own
// settings (16 KiB pages, `Journal.pageSize`) are part of what is measured against it.
try baseline.execute("PRAGMA journal_mode=WAL")
try baseline.execute("CREATE TABLE t (position INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL, at TEXT NOT NULL, recorded_at INTEGER NOT NULL, data BLOB NOT NULL)")
let source = try Database(path: dbPath, mode: .readOnly)
let read = try source.prepare("SELECT position, id, type, at, recorded_at, data FROM journal WHERE position > ? ORDER BY position LIMIT 100000")
let insert = try baseline.prepare("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)")
var insertSeconds = 0.0
var last: Int64 = 0
while true {
    var rows: [(Int64, String, String, String, Int64, [UInt8])] = []
    try read.bind([.integer(last)])
    while try read.step() { rows.append((read.int(0), read.text(1), read.text(2), read.text(3), read.int(4), read.blob(5))) }
    if rows.isEmpty { break }
    last = rows.last!.0
    insertSeconds += try seconds {
        try baseline.writeTransaction {
            for r in rows {
                insert.reset()
                insert.bind(r.0, at: 1); insert.bind(r.1, at: 2); insert.bind(r.2, at: 3)
                insert.bind(r.3, at: 4); insert.bind(r.4, at: 5); r.5.withUnsafeBytes { insert.bind(bytes: $0, at: 6) }
                try insert.step()
            }
        }
    }
}
var selected = 0
var bytes = 0
let selectSeconds = try seconds {
    let s = try baseline.prepare("SELECT position, id, type, at, recorded_at, data FROM t ORDER BY position")
    while try s.step() {
        selected += 1
        bytes &+= s.withBytes(5) { $0.count } + s.text(1).utf8.count
    }
}

// 6. Dispatch: 100,000 pending updates to a sandbox store whose catalogue is 90% simple products.
let dispatchProducts = max(1_000, min(100_000, options.events / 10))
var dispatchSeconds = 0.0, dispatchItems = 0, dispatchRequests = 0
do {
    var seed: [String] = []
    var id: Int64 = 1
    var catalogueEvents: [Event] = []
    var variantEvents: [Event] = []
    var n = 0
    while n < dispatchProducts {
        if n % 500 == 450 {
            // Every 500 products: 450 simple ones, then a variable product with 50 variations
            // (90% simple, 10% variations; variation batches go per parent).
            let parent = id; id += 1
            var children: [String] = []
            for _ in 0..<min(50, dispatchProducts - n) {
                children.append(#"{"id":\#(id),"sku":"V\#(id)","manage_stock":true,"stock_quantity":0}"#)
                catalogueEvents.append(Event(id: "p\(id)", at: "2026-11-26T10:00:00Z", payload: .wooProductUpserted(WooProduct(store: "bench", wooID: id, parentID: parent, sku: "V\(id)"))))
                variantEvents.append(Event(id: "v\(id)", at: "2026-11-26T10:00:00Z", payload: .variantUpserted(VariantDeclaration(variantID: id, sku: "V\(id)", kind: .product))))
                id += 1; n += 1
            }
            seed.append(#"{"id":\#(parent),"sku":"PARENT\#(parent)","type":"variable","manage_stock":false,"variations":[\#(children.joined(separator: ","))]}"#)
        } else {
            seed.append(#"{"id":\#(id),"sku":"S\#(id)","manage_stock":true,"stock_quantity":0}"#)
            catalogueEvents.append(Event(id: "p\(id)", at: "2026-11-26T10:00:00Z", payload: .wooProductUpserted(WooProduct(store: "bench", wooID: id, sku: "S\(id)"))))
            variantEvents.append(Event(id: "v\(id)", at: "2026-11-26T10:00:00Z", payload: .variantUpserted(VariantDeclaration(variantID: id, sku: "S\(id)", kind: .product))))
            id += 1; n += 1
        }
    }
    let server = try await SandboxServer.start(consumerKey: "ck_bench", consumerSecret: "cs_bench", assumeHTTPS: true,
                                               seed: try JSONReader.parse("[" + seed.joined(separator: ",") + "]"))
    let dispatchJournal = try Journal(path: dir.appendingPathComponent("dispatch.db").path, writable: true)
    try dispatchJournal.append([Event(id: "connect", at: "2026-11-26T10:00:00Z", payload: .storeConnected(StoreSettings(store: "bench", url: server.url, locationID: 1, stockSync: true)))])
    try dispatchJournal.append(catalogueEvents + variantEvents)
    try dispatchJournal.append(variantEvents.map { e -> Event in
        guard case .variantUpserted(let v) = e.payload else { return e }
        return Event(id: "r\(v.variantID)", at: "2026-11-26T10:00:00Z", payload: .inventoryReconciled(InventoryReconciliation(variantID: v.variantID, locationID: 1, inStock: Quantity(Int(v.variantID % 50 + 1)))))
    })
    let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: WooClient.httpConfiguration())
    // Basic auth as over HTTPS (the sandbox assumes a TLS-terminating proxy), so OAuth does not skew the figure.
    let credentials = CredentialsFile(path: "(bench)", stores: ["bench": Credentials(consumerKey: "ck_bench", consumerSecret: "cs_bench", auth: .basic, requestsPerSecond: 10_000, maxInFlight: 2)])
    let pendingBefore = try dispatchJournal.state().projection.pending.count
    dispatchSeconds = try await drain(dispatchJournal, credentials, http)
    let posts = server.requests().filter { $0.method == "POST" && $0.status == 200 }
    dispatchRequests = posts.count
    dispatchItems = posts.reduce(0) { $0 + $1.items }
    log("dispatch: \(pendingBefore) pending, \(dispatchItems) items in \(dispatchRequests) requests in \(String(format: "%.2f", dispatchSeconds)) s", options.json)
    try await http.shutdown().get()
    try await server.shutdown()
}
let dispatchRate = Double(dispatchItems) / max(dispatchSeconds, 1e-9)
let itemsPerRequest = Double(dispatchItems) / Double(max(1, dispatchRequests))

let ingestRate = Double(lines) / ingestSeconds
let replayRate = Double(head) / replaySeconds
let insertRate = Double(head) / insertSeconds
let selectRate = Double(selected) / selectSeconds

if options.json {
    print(#"{"events":\#(lines),"ingest_events_per_s":\#(Int(ingestRate)),"replay_events_per_s":\#(Int(replayRate)),"stock_at_ms":\#(Int((stockAtSeconds * 1000).rounded())),"sqlite_insert_rows_per_s":\#(Int(insertRate)),"sqlite_select_rows_per_s":\#(Int(selectRate)),"peak_rss_bytes":\#(peak),"dispatch_updates_per_s":\#(Int(dispatchRate)),"dispatch_items_per_request":\#(String(format: "%.1f", itemsPerRequest))}"#)
} else {
    func pct(_ a: Double, _ b: Double) -> String { String(format: "%.0f%%", 100 * a / b) }
    print("events                  \(lines) (\(head) appended, \(summary.duplicates) duplicates)")
    print("ingest                  \(Int(ingestRate)) events/s   (\(pct(ingestRate, insertRate)) of bare SQLite insert)")
    print("replay                  \(Int(replayRate)) events/s   (\(pct(replayRate, selectRate)) of bare SQLite select)")
    print("stock --at \(head / 2)    \(Int((stockAtSeconds * 1000).rounded())) ms (\(rowCount) rows)")
    print("  JSON decode alone     \(Int(jsonRate)) events/s (ingest's parser; first 200,000 events)")
    print("  binary decode alone   \(Int(binaryRate)) events/s (replay's reader)")
    print("  fold alone            \(Int(foldRate)) events/s (documents in memory)")
    print("bare SQLite insert      \(Int(insertRate)) rows/s")
    print("bare SQLite select      \(Int(selectRate)) rows/s")
    print("peak RSS                \(peak / 1_048_576) MiB")
    print("dispatch                \(Int(dispatchRate)) updates/s, \(String(format: "%.1f", itemsPerRequest)) items per request (\(dispatchItems) updates to a local sandbox)")
}
