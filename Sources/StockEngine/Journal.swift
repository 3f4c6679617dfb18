import Foundation
import SQLite
import StockDomain

/// The append-only journal and its inline projections in one SQLite file (SPEC §3.1).
///
/// Every write is one `BEGIN IMMEDIATE` transaction: the events are appended with gap-free
/// positions, folded into the projection and the outbox, and the projection's position is
/// recorded — all or nothing. SQLite's lock (with a busy timeout) keeps one writer at a time.
public final class Journal {
    public let path: String
    let db: Database
    let writable: Bool
    /// The projection as of its position, kept between calls: every change to the projection
    /// tables comes with a new position, so an equal stored position proves it is current.
    var cachedProjection: Projection?
    /// Whether every write to this file marks the projection tables it changes (schema
    /// version 6 on): a file an older build may still write is always reloaded whole.
    let marksTables: Bool
    /// How often the stored projection was loaded whole and brought forward table by table
    /// (tests check that both paths run).
    var loads = (whole: 0, advanced: 0)
    /// Whether the operator was told that the projection tables could not be used.
    var warnedAboutTables = false
    /// Document records held in memory before they are written (tests lower it).
    var documentBufferLimit = SQLiteDocuments.bufferLimit

    /// Opens the database at `path`. Opens of a missing file fail (74) and create nothing,
    /// unless `writable` and `creating`: only the commands that bring content (`ingest`,
    /// `store connect`) start a journal, so a mistyped `--db` in a cron line fails loudly
    /// instead of syncing an empty database forever.
    public init(path: String, writable: Bool, creating: Bool = true) throws(EngineError) {
        self.path = path
        self.writable = writable
        // SQLite reads both as "a database that vanishes on close": an ingest would report
        // success and keep nothing (an unset variable in `--db "$DB"`, say).
        if path.isEmpty || path == ":memory:" {
            throw EngineError(.usage, "database path '\(path)' names no file; give the database file's path")
        }
        let exists = try Journal.databaseFileExists(path)
        if !(writable && creating) && !exists {
            throw EngineError(.io, "\(path): no such database (run 'stocksync ingest' or 'stocksync store connect' first)")
        }
        do {
            db = try Database(path: path, mode: writable ? .readWriteCreate : .readOnly,
                              busyTimeoutMilliseconds: Journal.busyTimeoutMilliseconds)
        } catch {
            throw EngineError(.io, "\(path): cannot open database: \(error)")
        }
        if writable {
            // Explicit, not left to how the system's SQLite was built: a commit is on disk,
            // WAL included, before `ingest` says "appended" or a delivery is acknowledged, so a
            // power cut loses nothing reported as kept (NORMAL would risk the last commits).
            do { try db.execute("PRAGMA synchronous=FULL") } catch { throw EngineError.database(error, path: path) }
        }
        let projectionsDropped = try Schema.prepare(db, writable: writable)
        do { marksTables = try db.scalarInt("PRAGMA user_version") ?? 0 >= Schema.tablesMarkedSince } catch { throw EngineError.database(error, path: path) }
        if writable {
            do { try db.execute(Schema.projectionTables) } catch { throw EngineError.database(error, path: path) }
        }
        if projectionsDropped {
            // At once, not at the next append: a command that writes nothing (a `sync` with
            // nothing to send) must not leave `replay --verify` comparing against empty tables.
            let position = try rebuild().position
            FileHandle.standardError.write(Data("stocksync: \(path): upgraded to schema version \(Schema.currentVersion); projections rebuilt from the journal (\(position) events)\n".utf8))
        }
    }

    /// Whether something is at `path`; a directory there is an error naming it as such, since
    /// SQLite would only say "disk I/O error".
    static func databaseFileExists(_ path: String) throws(EngineError) -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return false }
        if isDirectory.boolValue {
            throw EngineError(.io, "\(path): is a directory; give the database file's path (for instance \(path.hasSuffix("/") ? path : path + "/")stocksync.db)")
        }
        return true
    }

    /// The schema version this build writes, and the newest it opens.
    public static var schemaVersion: Int64 { Schema.currentVersion }

    /// The page size of databases this build creates (existing files keep theirs: SQLite
    /// changes it only by rewriting the file). SQLite's default is 4 KiB; with 16 KiB the
    /// journal's appends and reads touch a quarter of the pages, and by turns at 1,000,000
    /// events ingest took about 5 % less time and replay 6–9 % less.
    public static let pageSize = 16_384

    /// How long a writer waits for another to finish (`STOCKSYNC_BUSY_TIMEOUT_MS`, default 5 s)
    /// before giving up with a temporary failure (75).
    /// Read once per process, so a bad value is named once.
    static let busyTimeoutMilliseconds: Int32 = {
        guard let text = ProcessInfo.processInfo.environment["STOCKSYNC_BUSY_TIMEOUT_MS"] else { return 5_000 }
        guard let value = Int32(text), value >= 0 else {
            FileHandle.standardError.write(Data("stocksync: STOCKSYNC_BUSY_TIMEOUT_MS='\(text)' is not a number of milliseconds; waiting the default 5000\n".utf8))
            return 5_000
        }
        return value
    }()

    /// The last position in the journal (0 when empty).
    public func head() throws(EngineError) -> Int64 {
        do { return try db.scalarInt("SELECT max(position) FROM journal") ?? 0 } catch { throw EngineError.database(error, path: path) }
    }

    // MARK: Appending

    /// The outcome of one write call.
    public struct AppendSummary: Sendable, Equatable {
        public var appended: Int
        public var duplicates: Int
        public var firstPosition: Int64?
        public var lastPosition: Int64?
        /// Duplicates whose type or data differ from the event already in the journal: the
        /// first event with an id wins (rule 14), so what they say was dropped. Usually a
        /// connector that reuses one id for every version of a document.
        public var conflicts = 0
        /// The first few conflicting duplicates, to name in a warning.
        public var firstConflicts: [DuplicateConflict] = []
        static let conflictsNamed = 3
    }

    /// A duplicate id whose content differs from the journal's event with that id.
    public struct DuplicateConflict: Sendable, Equatable {
        public var id: String
        /// Where the duplicate came from: "file:line", or the event's index in an `append` call.
        public var source: String
        /// The position of the event with that id that the journal keeps.
        public var keptAt: Int64
    }

    /// Appends events built by `produce` in one transaction. `produce` is handed an `Appender`;
    /// any error it throws rolls the whole call back.
    /// `waitingForWriters`: how long to wait for another writer, when longer than the usual
    /// busy timeout is worth it (the result of minutes of network work, say).
    public func write(waitingForWriters wait: Int32? = nil, _ produce: (inout Appender) throws -> Void) throws(EngineError) -> AppendSummary {
        guard writable else { throw EngineError(.io, "\(path): opened read-only") }
        let usual = Journal.busyTimeoutMilliseconds
        // Loading the stored projection takes a good part of a second for a large catalogue
        // (0.29 s at 100,000 products): done here, in a read snapshot, other writers wait only
        // for the appends. Should one commit meanwhile, the appender finds the stored position
        // moved and loads again, under the lock.
        warmProjection()
        do {
            let (summary, projection) = try db.waitingForWriters(upTo: max(usual, wait ?? usual), restoring: usual) {
                try db.writeTransaction {
                    var appender = try Appender(journal: self)
                    try produce(&appender)
                    try appender.finish()
                    return (appender.summary, appender.projection)
                }
            }
            cachedProjection = projection
            return summary
        } catch {
            cachedProjection = nil
            throw EngineError.database(error, path: path)
        }
    }

    /// Loads the stored projection into the cache unless it holds the stored position already.
    /// A failure is left for the write to meet (and report) under its lock.
    private func warmProjection() {
        try? db.readTransaction { _ = try storedProjection() }
    }

    /// The stored projection: the cached one when it holds the stored position (every change to
    /// the tables comes with a new position), else loaded and cached. Called inside a
    /// transaction, so that the position and the tables are read in one snapshot.
    /// Another writer's change to the stock alone (most of them) is read table by table
    /// instead (`ProjectionTables.advance`).
    func storedProjection() throws -> Projection {
        let stored = try db.scalarInt("SELECT value FROM projection_meta WHERE key = 'position'") ?? 0
        if let cached = cachedProjection {
            if cached.position == stored { return cached }
            // Out of the cache until advanced: should a read fail, the next call loads it whole.
            cachedProjection = nil
            if marksTables, let advanced = try ProjectionTables(db: db).advance(cached, to: stored) {
                loads.advanced += 1
                cachedProjection = advanced
                return advanced
            }
        }
        let loaded = try ProjectionTables(db: db).load()
        loads.whole += 1
        cachedProjection = loaded
        return loaded
    }

    /// Appends already-built events (CLI commands, tests).
    @discardableResult
    public func append(_ events: [Event]) throws(EngineError) -> AppendSummary {
        try write { appender in
            for (i, event) in events.enumerated() {
                do { try appender.append(event, source: "event \(i + 1)") } catch let error as EventError {
                    throw EngineError(.badInput, "event \(i + 1) (\(event.id)): \(error)")
                }
            }
        }
    }

    /// Ingests JSON Lines files ("-" is standard input) in one transaction (SPEC §3.2).
    public func ingest(_ paths: [String]) throws(EngineError) -> AppendSummary {
        try ingest(IngestInput(paths))
    }

    /// Ingests files already opened, in one transaction; `input` is consumed.
    public func ingest(_ input: IngestInput) throws(EngineError) -> AppendSummary {
        let input = try input.spoolingStreams(in: URL(fileURLWithPath: path).deletingLastPathComponent().path)
        // From here the decoder thread owns the files and closes them when it ends.
        let files = input.readers
        let lines = DecodeAhead<DecodedLines> { emit in
            defer { files.forEach { $0.close() } }
            for reader in files {
                var batch = DecodedLines(source: reader.name)
                func send() throws {
                    guard !batch.isEmpty else { return }
                    try emit(batch)
                    batch = DecodedLines(source: reader.name)
                }
                try reader.forEachLine { line, number in
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
                    do throws(EventError) {
                        batch.append(try EventCodec.decodeLine(line), number: number)
                    } catch {
                        // The call fails at this line at the latest: nothing after it is needed.
                        batch.failure = (number, error)
                        try send()
                        throw DecodeAhead<DecodedLines>.Finished()
                    }
                    if batch.events.count == DecodedLines.size { try send() }
                }
                try send()
            }
        }
        defer { lines.stop() }
        return try write { appender in
            try lines.forEach { batch in
                // Through buffer pointers, so each event is lent rather than copied.
                try batch.payloads.withUnsafeBytes { payloads in try batch.events.withUnsafeBufferPointer { events in
                    for i in events.indices {
                        do {
                            try appender.append(lent: events.baseAddress.unsafelyUnwrapped + i, encodedPayload: UnsafeRawBufferPointer(rebasing: payloads[batch.payloadRange(i)]),
                                                source: "\(batch.source):\(batch.numbers[i])")
                        } catch let error as EventError {
                            throw EngineError(.badInput, "\(batch.source):\(batch.numbers[i]): \(error)")
                        }
                    }
                } }
                if let (number, error) = batch.failure { throw EngineError(.badInput, "\(batch.source):\(number): \(error)") }
            }
        }
    }

    /// Appends events inside a write transaction: position, journal row, projection, outbox.
    public struct Appender {
        let journal: Journal
        let insert: Statement
        /// The kept event of a duplicate id, to compare with.
        let kept: Statement
        let tables: ProjectionTables
        var projection: Projection
        var documents: SQLiteDocuments
        let recordedAt: Int64
        var next: Int64
        /// Reused for every payload's binary encoding.
        var payloadBytes: [UInt8] = []
        var summary = AppendSummary(appended: 0, duplicates: 0)

        init(journal: Journal) throws {
            self.journal = journal
            let db = journal.db
            tables = ProjectionTables(db: db)
            insert = try db.prepare("INSERT OR IGNORE INTO journal (position, id, type, at, recorded_at, data) VALUES (?, ?, ?, ?, ?, ?)")
            kept = try db.prepare("SELECT position, type, data FROM journal WHERE id = ?")
            let head = try db.scalarInt("SELECT max(position) FROM journal") ?? 0
            // The recorded time never goes backwards, even if the clock does (SPEC §5).
            let last = try db.scalarInt("SELECT recorded_at FROM journal WHERE position = ?", [.integer(head)]) ?? 0
            recordedAt = max(Instant.now.microseconds, last)
            next = head + 1
            projection = try journal.storedProjection()
            // Taken, not shared: the fold's first change to each table would otherwise copy it
            // whole (copy on write). `write` caches the result again.
            journal.cachedProjection = nil
            if projection.position != head {
                // The projection tables were lost or are behind: rebuild them from the journal
                // first, in this transaction.
                FileHandle.standardError.write(Data("stocksync: projection at position \(projection.position) but journal at \(head); rebuilding from the journal\n".utf8))
                projection = try journal.rebuildInTransaction().projection
            }
            documents = try SQLiteDocuments(db, limit: journal.documentBufferLimit)
        }

        /// Appends one event; a duplicate id is counted and skipped (SPEC §3.1, rule 14), and
        /// noted in the summary under `source` when its content differs from the kept event's.
        /// Throws `EventError` when the event contradicts the state.
        public mutating func append(_ event: Event, source: @autoclosure () -> String = "an appended event") throws {
            var bytes: [UInt8] = []
            swap(&bytes, &payloadBytes)
            defer { swap(&bytes, &payloadBytes) }
            BinaryPayload.encode(event.payload, into: &bytes)
            try withUnsafePointer(to: event) { event in try bytes.withUnsafeBytes { try append(lent: event, encodedPayload: $0, source: source()) } }
        }

        /// `append`, with the payload already in the journal's binary encoding. The event is
        /// lent through a pointer: passed by value from a batch's array, it was copied whole
        /// first. (The payload is still copied for the fold: the compiler copies a value read
        /// through a pointer before a mutating call elsewhere.)
        mutating func append(lent event: UnsafePointer<Event>, encodedPayload: UnsafeRawBufferPointer, source: @autoclosure () -> String) throws {
            insert.reset()
            insert.bind(next, at: 1)
            insert.bind(event.pointee.id, at: 2)
            insert.bind(event.pointee.type.rawValue, at: 3)
            insert.bind(event.pointee.at, at: 4)
            insert.bind(recordedAt, at: 5)
            insert.bind(bytes: encodedPayload, at: 6)
            try insert.step()
            guard journal.db.changes > 0 else {
                summary.duplicates += 1
                if let keptAt = try differingKeptEvent(event, encodedPayload) {
                    summary.conflicts += 1
                    if summary.firstConflicts.count < AppendSummary.conflictsNamed {
                        summary.firstConflicts.append(DuplicateConflict(id: event.pointee.id, source: source(), keptAt: keptAt))
                    }
                }
                return
            }
            // Document snapshots, most of what is ingested, are folded from their encoded bytes.
            if try !projection.applyInPlace(encodedPayload, at: next, documents: &documents) {
                try projection.apply(event.pointee.payload, at: next, documents: &documents)
            }
            if summary.firstPosition == nil { summary.firstPosition = next }
            summary.lastPosition = next
            summary.appended += 1
            next += 1
        }

        /// The position of the event the journal keeps under a duplicate's id, when its type or
        /// data differ from the duplicate's (nil: the same event). The source time is left out:
        /// the fold never reads it, so a difference there loses nothing.
        private func differingKeptEvent(_ event: UnsafePointer<Event>, _ encodedPayload: UnsafeRawBufferPointer) throws -> Int64? {
            kept.reset()
            defer { kept.reset() }
            kept.bind(event.pointee.id, at: 1)
            guard try kept.step() else { return nil }
            let same = kept.withBytes(2) { stored in
                // Binary payloads carry their type and encode equal payloads alike; a JSON one
                // (written before schema version 3) is decoded first. One that no longer decodes
                // is reported as differing, not allowed to fail the call: it is another matter.
                if BinaryPayload.isBinary(stored) { return stored.elementsEqual(encodedPayload) }
                return (try? Journal.payload(kept, path: journal.path)) == event.pointee.payload
            }
            return same ? nil : kept.int(0)
        }

        /// The projection as it stands after the events appended so far.
        public var state: Projection { projection }

        mutating func finish() throws {
            insert.reset()
            try documents.flush()
            try tables.save(&projection)
        }
    }

    // MARK: Reading

    /// Calls `body` with each event in `range` of positions, in order.
    public func forEachEvent(from first: Int64 = 1, through last: Int64 = .max,
                             _ body: (Int64, Event) throws -> Void) throws {
        let s = try Journal.rows(db, from: first, through: last, withIdentity: true)
        while try s.step() {
            try body(s.int(0), Event(id: s.text(3), at: s.text(4), payload: try Journal.payload(s, path: path)))
        }
    }

    /// Journal rows in `first...last`, in order: position, type, data, then (`withIdentity`) id
    /// and source time, which the fold never reads.
    static func rows(_ db: Database, from first: Int64, through last: Int64, withIdentity: Bool) throws -> Statement {
        let s = try db.prepare("SELECT position, type, data\(withIdentity ? ", id, at" : "") FROM journal WHERE position >= ? AND position <= ? ORDER BY position")
        try s.bind([.integer(first), .integer(last)])
        return s
    }

    /// Decodes the payload of the current row of `rows`. Binary payloads carry their type;
    /// JSON ones (written before schema version 3) take it from the column.
    static func payload(_ s: Statement, path: String) throws(EngineError) -> EventPayload {
        let position = s.int(0)
        do {
            return try s.withBytes(2) { raw throws(EventError) in
                if BinaryPayload.isBinary(raw) { return try BinaryPayload.decode(raw) }
                guard let type = EventType(rawValue: s.text(1)) else { throw EventError(field: "type", "unknown type '\(s.text(1))'") }
                return try EventCodec.decodeData(type: type, json: raw.bindMemory(to: UInt8.self))
            }
        } catch {
            throw EngineError(.io, "\(path): corrupt journal at position \(position): \(error)")
        }
    }

    /// The event at `position`, if any.
    public func event(at position: Int64) throws -> Event? {
        var found: Event?
        try forEachEvent(from: position, through: position) { _, e in found = e }
        return found
    }

    /// The position an `--at` value names: a position, or an RFC 3339 time meaning the last
    /// event recorded at or before it (SPEC §5).
    public func resolve(_ at: PointInTime) throws(EngineError) -> Int64 {
        let head = try head()
        switch at {
        case .position(let p):
            guard p >= 0 else { throw EngineError(.badInput, "--at: position \(p) is negative") }
            guard p <= head else { throw EngineError(.badInput, "--at: position \(p) is beyond the end of the journal (\(head))") }
            return p
        case .time(let instant):
            do {
                return try db.scalarInt("SELECT max(position) FROM journal WHERE recorded_at <= ?", [.integer(instant.microseconds)]) ?? 0
            } catch { throw EngineError.database(error, path: path) }
        }
    }
}

/// A point in the journal's history: a position or a recorded time.
public enum PointInTime: Sendable, Equatable {
    case position(Int64)
    case time(Instant)

    /// Parses `--at`: an integer is a position, anything else must be RFC 3339 with an offset.
    public static func parse(_ text: String) -> PointInTime? {
        if let p = Int64(text) { return .position(p) }
        return Instant.parse(text).map { .time($0) }
    }
}

extension Instant {
    /// The wall-clock time now.
    public static var now: Instant {
        let t = Date().timeIntervalSince1970
        let seconds = Int64(t.rounded(.down))
        return Instant(seconds: seconds, nanoseconds: Int32((t - Double(seconds)) * 1e9))
    }
}
