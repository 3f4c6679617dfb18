import ArgumentParser
import Foundation
import StockDomain
import StockEngine

@main
struct StockSync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stocksync",
        abstract: "Keeps WooCommerce stock levels true to Katana, from an append-only journal.",
        // The schema too: "database schema version 5 is newer than this stocksync supports"
        // is answered by knowing which one a binary writes.
        version: "0.1.0 (journal schema \(Journal.schemaVersion))",
        subcommands: [Ingest.self, Stock.self, Explain.self, Outbox.self, Log.self, Replay.self, Backup.self, StoreCommand.self,
                      Sync.self, Resync.self, Deliveries.self, Export.self, Sandbox.self, Demo.self]
    )
}

/// `--db PATH`, shared by every command (SPEC §7).
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The database file (default: $STOCKSYNC_DB, else ./stocksync.db).", valueName: "path"))
    var db: String?

    var path: String {
        if let db { return db }
        if let env = ProcessInfo.processInfo.environment["STOCKSYNC_DB"], !env.isEmpty { return env }
        return "./stocksync.db"
    }

    /// Every command but `ingest` and `store connect` needs an existing journal.
    func open(writable: Bool) throws(EngineError) -> Journal {
        try Journal(path: path, writable: writable, creating: false)
    }

    /// `ingest` and `store connect` start a journal when there is none, with their first write:
    /// a new database appears only when that write succeeds (`Journal.write(creatingIfMissing:)`).
    func write<R>(_ write: (Journal) throws(EngineError) -> R) throws(EngineError) -> R {
        try Journal.write(creatingIfMissing: path, write)
    }
}

/// Runs a command body, turning engine errors into a message on stderr and the exit code of SPEC §7.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as EngineError {
        FileHandle.standardError.write(Data("stocksync: \(printable(error.message))\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as EngineError {
        FileHandle.standardError.write(Data("stocksync: \(printable(error.message))\n".utf8))
        throw ExitCode(error.exitCode)
    }
}

/// A message on stderr; `stamped` puts the time first (a daemon's log).
func warn(_ text: String, stamped: Bool = false) {
    FileHandle.standardError.write(Data("\(timePrefix(stamped))stocksync: \(printable(text))\n".utf8))
}

/// The current time and a space, in a daemon's log lines (RFC 3339, UTC); nothing otherwise.
func timePrefix(_ stamped: Bool) -> String { stamped ? "\(Instant.now) " : "" }

/// Text for a terminal: SKUs, ids and order numbers come from Katana and the stores, and a
/// control character among them (an escape sequence, say) would act on the terminal instead of
/// showing. Each is shown as `\u{1B}`; line breaks and tabs stay.
func printable(_ text: String) -> String {
    func isControl(_ s: Unicode.Scalar) -> Bool {
        (s.value < 0x20 && s != "\n" && s != "\t") || (0x7F...0x9F).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
    }
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var out = String.UnicodeScalarView()
    for s in text.unicodeScalars {
        if isControl(s) { out.append(contentsOf: "\\u{\(String(s.value, radix: 16, uppercase: true))}".unicodeScalars) } else { out.append(s) }
    }
    return String(out)
}

/// Text output, made `printable`.
func emit(_ text: String) {
    FileHandle.standardOutput.write(Data((printable(text) + "\n").utf8))
}

/// JSON output, exactly as written: its strings are escaped already, and a consumer needs them whole.
func emitJSON(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func parsePoint(_ text: String?) throws(EngineError) -> PointInTime? {
    guard let text else { return nil }
    guard let point = PointInTime.parse(text) else {
        throw EngineError(.usage, "--at: '\(text)' is neither a position nor an RFC 3339 time with offset")
    }
    return point
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Append JSON Lines events to the journal, all or nothing.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("JSON Lines files; '-' reads standard input.", valueName: "file"))
    var files: [String]

    func validate() throws {
        if files.isEmpty { throw ValidationError("name at least one file, or '-' for standard input") }
    }

    func run() throws {
        try reportingErrors {
            // The files first: a missing one must not leave a new, empty database behind.
            let input = try IngestInput(files)
            // Waiting silently on a terminal looks like a hang: say what it waits for.
            if files.contains("-") && isatty(STDIN_FILENO) == 1 {
                warn("reading events from standard input, one JSON object per line; end with Ctrl-D")
            }
            // `ingest` consumes the input; when no journal could be opened, it is closed here.
            var consumed = false
            let summary: Journal.AppendSummary
            do {
                summary = try database.write { journal throws(EngineError) in
                    consumed = true
                    return try journal.ingest(input)
                }
            } catch {
                if !consumed { input.close() }
                throw error
            }
            var line = "appended \(summary.appended), duplicates \(summary.duplicates)"
            if let first = summary.firstPosition, let last = summary.lastPosition { line += " (positions \(first)–\(last))" }
            emit(line)
            warnAboutConflicts(summary)
        }
    }
}

/// Duplicates with other content are not an error (the first event with an id wins, rule 14),
/// but what they say is dropped: said loudly, because the usual cause is a connector giving
/// every version of a document the same id, which would lose every edit after the first.
func warnAboutConflicts(_ summary: Journal.AppendSummary) {
    guard summary.conflicts > 0 else { return }
    for c in summary.firstConflicts {
        warn("warning: \(c.source): event id '\(c.id)' is already in the journal (position \(c.keptAt)) with other content; the first event with an id wins, so this one changed nothing")
    }
    if summary.conflicts > summary.firstConflicts.count {
        warn("warning: \(summary.conflicts - summary.firstConflicts.count) more duplicate ids carried other content")
    }
    warn("warning: \(summary.conflicts) skipped event(s) differ from the journal's; if they are new versions of documents, give each version its own id (for instance the document id with its updated_at) and ingest them again")
}

struct Stock: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The projected stock table: In stock, Committed, Expected and what each store receives.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "Only rows at this store's location, with this store alone.") var store: String?
    @Option(parsing: .unconditional, help: "Only variants carrying this SKU.") var sku: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("A journal position, or an RFC 3339 time (what the engine knew then).", valueName: "position|time"))
    var at: String?
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try reportingErrors {
            let journal = try database.open(writable: false)
            let view = try journal.state(at: parsePoint(at))
            try requireConnected(store, in: view, at: at)
            let rows = try view.projection.stockRows(store: store, sku: sku)
            if json {
                emitJSON(Render.stockJSON(position: view.projection.position, rows: rows))
            } else {
                emit(Render.stockText(position: view.projection.position, rows: rows))
            }
        }
    }
}

/// Asked about a past state, a store that was not connected then is named as such: "unknown
/// store" would be wrong about a store that exists now.
func requireConnected(_ store: StoreID?, in view: StateView, at: String?) throws(EngineError) {
    guard let store, let at, view.projection.stores[store]?.connected != true else { return }
    throw EngineError(.badInput, "--store: store '\(store)' was not connected as of journal position \(view.projection.position) (--at \(at))")
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Why a store receives the number it does for a SKU.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The SKU (Katana variant code).") var sku: String?
    @Option(help: "The store.") var store: String
    @Option(help: "Explain a variant by id (for a variant without SKU).") var variant: Int64?
    @Option(parsing: .unconditional, help: ArgumentHelp("A journal position, or an RFC 3339 time.", valueName: "position|time")) var at: String?
    @Flag(help: "List every contribution; by default each heading lists the latest \(StockEngine.Explain.defaultLimit) and sums the earlier ones.") var all = false

    func validate() throws {
        if (sku == nil) == (variant == nil) { throw ValidationError("give either a SKU or --variant ID") }
    }

    func run() throws {
        try reportingErrors {
            let journal = try database.open(writable: false)
            let view = try journal.state(at: parsePoint(at))
            try requireConnected(store, in: view, at: at)
            let subject: StockEngine.Explain.Subject = sku.map { .sku($0) } ?? .variant(variant ?? 0)
            emit(try StockEngine.Explain.render(subject, store: store, in: view, limit: all ? nil : StockEngine.Explain.defaultLimit))
        }
    }
}

struct Outbox: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pending pushes: what each store will receive next.")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        try reportingErrors {
            let view = try database.open(writable: false).state()
            if json { emitJSON(Render.outboxJSON(view.projection)) } else { emit(Render.outboxText(view.projection)) }
        }
    }
}

struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The journal, oldest first; --json writes the interchange format.")
    @OptionGroup var database: DatabaseOptions
    @Option(parsing: .unconditional, help: "Start at this position.") var from: Int64 = 1
    @Option(parsing: .unconditional, help: "At most this many events.") var limit: Int64?
    @Flag(help: "JSON Lines in the interchange format, with positions.") var json = false

    func validate() throws {
        if from < 0 { throw ValidationError("--from must be ≥ 0") }
        if let limit, limit < 0 { throw ValidationError("--limit must be ≥ 0") }
    }

    func run() throws {
        try reportingErrors {
            let journal = try database.open(writable: false)
            // Positions start at 1: `--from 0` means the first event, and the limit counts from there.
            let first = max(1, from)
            let last = limit.map { n in
                let (sum, overflow) = first.addingReportingOverflow(n - 1)
                return overflow ? .max : sum
            } ?? .max
            var out = ""
            do {
                try journal.forEachEvent(from: first, through: last) { position, event in
                    if json {
                        out += EventCodec.encodeLine(event, position: position) + "\n"
                    } else {
                        out += printable("\(position)  \(event.at)  \(event.type.rawValue)  \(event.id)") + "\n"
                    }
                    if out.utf8.count > 1 << 20 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
                }
            } catch let e as EngineError { throw e } catch { throw EngineError(.io, "\(journal.path): \(error)") }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the whole database into a new file, consistent as of one moment, while other commands go on.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: ArgumentHelp("The new file; an existing one is never overwritten.", valueName: "path"))
    var target: String

    func run() throws {
        try reportingErrors {
            let position = try Journal.backup(database.path, to: target)
            emit("backed up \(database.path) to \(target) (journal through position \(position))")
        }
    }
}

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rebuild the projections and the outbox from the journal alone.")
    @OptionGroup var database: DatabaseOptions
    @Flag(help: "Rebuild aside and compare with the inline state; change nothing.") var verify = false

    func run() throws {
        try reportingErrors {
            if verify {
                let journal = try database.open(writable: false)
                let differences = try journal.verify()
                if differences.isEmpty {
                    emit("replay --verify: inline state equals the replayed state at position \(try journal.head())")
                } else {
                    FileHandle.standardError.write(Data(printable("replay --verify: the inline state differs from the replayed state:\n" +
                        differences.map { "  " + $0 }.joined(separator: "\n") + "\n").utf8))
                    throw ExitCode(1)
                }
            } else {
                let rebuilt = try database.open(writable: true).rebuild()
                let rows = rebuilt.rowsCorrected == 1 ? "row" : "rows"
                var corrected = rebuilt.documentsRewritten
                    ? "document records rewritten whole, being too many to compare; \(rebuilt.rowsCorrected) other stored \(rows) corrected"
                    : "\(rebuilt.rowsCorrected) stored \(rows) corrected"
                if rebuilt.rowsReencoded > 0 { corrected += "; \(rebuilt.rowsReencoded) right but rewritten in this version's encoding" }
                emit("replayed \(rebuilt.position) events; projections and outbox rebuilt (\(corrected))")
            }
        }
    }
}
