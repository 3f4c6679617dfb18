import Foundation
import SQLite
import StockDomain

/// The state as of some position, with access to its document records (for explain).
/// States other than the current one are rebuilt aside in a temporary database, which this
/// object deletes when released.
public final class StateView {
    public let projection: Projection
    public let journal: Journal
    private let documentsDB: Database
    /// The records of a state rebuilt aside, until something reads them: most point-in-time
    /// questions (`stock --at`) need only the projection, and writing every record would be
    /// a good part of their time.
    private var unwritten: SQLiteDocuments?
    let temporaryPath: String?

    init(projection: Projection, journal: Journal, documentsDB: Database, unwritten: SQLiteDocuments? = nil, temporaryPath: String?) {
        self.projection = projection
        self.journal = journal
        self.documentsDB = documentsDB
        self.unwritten = unwritten
        self.temporaryPath = temporaryPath
    }

    /// The database holding this state's document records, written out first if need be.
    func documentsDatabase() throws -> Database {
        if let unwritten {
            try documentsDB.writeTransaction { try unwritten.flush() }
            self.unwritten = nil
        }
        return documentsDB
    }

    deinit {
        if let temporaryPath {
            for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: temporaryPath + suffix) }
        }
    }

    /// Every document record whose frozen effects touch `cell`, with its key.
    public func documents(touching cell: CellKey) throws -> [(DocumentKey, DocumentRecord)] {
        let s = try documentsDatabase().prepare("SELECT kind, id, updated_seconds, updated_nanos, position, deleted, effects FROM documents ORDER BY position")
        var result: [(DocumentKey, DocumentRecord)] = []
        while try s.step() {
            let record = try SQLiteDocuments.decode(s, offset: 2)
            guard record.effects.contains(where: { $0.cell == cell }),
                  let kind = DocumentKind(rawValue: UInt8(truncatingIfNeeded: s.int(0))) else { continue }
            result.append((DocumentKey(kind, s.int(1)), record))
        }
        return result
    }
}

/// What a rebuild did: the position it reached, and how many stored rows it had to write or
/// delete (none when the tables already held the journal's state).
public struct Rebuilt: Sendable, Equatable {
    public var position: Int64
    /// Rows written or deleted, the document records' included unless `documentsRewritten`.
    public var rowsCorrected: Int
    /// Rows that were right but written by an older schema version, rewritten in the current
    /// encoding (not counted in `rowsCorrected`).
    public var rowsReencoded: Int
    /// The document records were too many to hold while rebuilding, so the table was emptied
    /// and written whole: how many of them were wrong is unknown.
    public var documentsRewritten: Bool
}

extension Journal {
    /// The state as of `position` (nil: the current state).
    public func state(at point: PointInTime? = nil) throws(EngineError) -> StateView {
        let head = try head()
        let target = try point.map { p throws(EngineError) in try resolve(p) } ?? head
        do {
            if target == head {
                // Lost or stale projection tables are not fatal: the journal alone answers. But
                // every answer then replays the whole journal, so the operator is told once.
                // The journal's head is read in the same snapshot as the tables: an ingest that
                // commits meanwhile moves both, and is no reason to distrust them.
                let current: (projection: Projection, head: Int64)?
                do {
                    current = try db.readTransaction { () throws -> (Projection, Int64) in
                        let head = try db.scalarInt("SELECT max(position) FROM journal") ?? 0
                        return (try storedProjection(), head)
                    }
                } catch {
                    current = nil
                    warnOnce("the projection tables cannot be read (\(error))")
                }
                if let (projection, snapshotHead) = current {
                    // A point asked for by position must be that position, not a later one.
                    if projection.position == snapshotHead && (point == nil || projection.position == target) {
                        return StateView(projection: projection, journal: self, documentsDB: db, temporaryPath: nil)
                    }
                    if projection.position != snapshotHead {
                        warnOnce("the projection tables stop at position \(projection.position) of \(snapshotHead)")
                    }
                }
            }
            return try rebuildAside(through: target)
        } catch {
            throw EngineError.database(error, path: path)
        }
    }

    /// Tells the operator, once per opened journal, that answers come from a replay because
    /// the stored tables could not be used.
    private func warnOnce(_ problem: String) {
        guard !warnedAboutTables else { return }
        warnedAboutTables = true
        FileHandle.standardError.write(Data("stocksync: \(path): \(problem); answering from the journal alone, which replays it every time. Run 'stocksync replay' to rebuild the tables.\n".utf8))
    }

    /// Folds the journal through `last` into a fresh temporary database.
    func rebuildAside(through last: Int64) throws -> StateView {
        let tmp = FileManager.default.temporaryDirectory
            .appendingPathComponent("stocksync-replay-\(UUID().uuidString).db").path
        let aside = try Database(path: tmp)
        try aside.setPageSize(Journal.pageSize)
        try aside.execute("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF")
        try aside.execute("CREATE TABLE projection_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);" + Schema.projectionTables)
        var projection = Projection()
        projection.tracksChanges = false
        var documents = try SQLiteDocuments(aside, rebuilding: true, limit: documentBufferLimit)
        try aside.writeTransaction {
            try db.readTransaction {
                try fold(into: &projection, documents: &documents, through: last)
            }
        }
        projection.tracksChanges = true
        return StateView(projection: projection, journal: self, documentsDB: aside, unwritten: documents, temporaryPath: tmp)
    }

    /// Recovery: rebuilds the projections and the outbox from the journal alone, then makes the
    /// tables hold exactly that, rewriting only the rows that differ (lost, stale or tampered).
    @discardableResult
    public func rebuild() throws(EngineError) -> Rebuilt {
        do {
            return try db.writeTransaction {
                let (projection, rebuilt) = try rebuildInTransaction(documentsUntouched: true)
                cachedProjection = projection
                return rebuilt
            }
        } catch {
            throw EngineError.database(error, path: path)
        }
    }

    /// `rebuild` inside the caller's write transaction: the projection it stored, and what it did.
    /// `documentsUntouched`: the transaction has not changed the `documents` table before, so
    /// another connection sees it as this one does, and compares the rebuilt records with it
    /// on a second thread while this one merges the projection tables.
    func rebuildInTransaction(documentsUntouched: Bool = false) throws -> (projection: Projection, rebuilt: Rebuilt) {
        var projection = Projection()
        projection.tracksChanges = false
        var documents = try SQLiteDocuments(db, rebuilding: true, limit: documentBufferLimit)
        try fold(into: &projection, documents: &documents, through: .max)
        var corrected: Int, reencoded: Int
        if documentsUntouched {
            let planning = Aside { [path, documents] in try documents.plan(reading: Database(path: path, mode: .readOnly)) }
            do {
                (corrected, reencoded) = try ProjectionTables(db: db).replaceAll(with: projection)
            } catch {
                _ = try? planning.value()
                throw error
            }
            // Without a plan (the second connection could not be opened, say), the flush
            // compares on this connection instead.
            try documents.flush(plan: try? planning.value())
        } else {
            try documents.flush()
            (corrected, reencoded) = try ProjectionTables(db: db).replaceAll(with: projection)
        }
        if !documents.rewroteAll { corrected += documents.rowsChanged }
        projection.tracksChanges = true
        return (projection, Rebuilt(position: projection.position, rowsCorrected: corrected, rowsReencoded: reencoded,
                                        documentsRewritten: documents.rewroteAll))
    }

    /// Rebuilds the state aside and compares it with the inline state; returns the differences
    /// (empty when identical), at most `limit` of them.
    public func verify(limit: Int = 20) throws(EngineError) -> [String] {
        // SQLite refuses to detach a database its open transaction has read: detach after it.
        var attached = false
        defer { if attached { try? db.execute("DETACH DATABASE aside") } }
        do {
            return try db.readTransaction {
                let inline = try ProjectionTables(db: db).load()
                let head = try db.scalarInt("SELECT max(position) FROM journal") ?? 0
                let replayed = try rebuildAside(through: head)
                var differences = Projection.differences(inline, replayed.projection, limit: limit)
                if differences.count < limit {
                    _ = try replayed.documentsDatabase()
                    try db.execute("ATTACH DATABASE '\(replayed.temporaryPath!.replacingOccurrences(of: "'", with: "''"))' AS aside")
                    attached = true
                    let q = try db.prepare("""
                        SELECT 'inline', kind, id FROM (SELECT * FROM main.documents EXCEPT SELECT * FROM aside.documents)
                        UNION ALL
                        SELECT 'replayed', kind, id FROM (SELECT * FROM aside.documents EXCEPT SELECT * FROM main.documents)
                        LIMIT \(limit - differences.count)
                        """)
                    while try q.step() {
                        let kind = DocumentKind(rawValue: UInt8(truncatingIfNeeded: q.int(1)))?.label ?? "document"
                        differences.append("document \(kind) \(q.int(2)): \(q.text(0)) record differs or is missing on the other side")
                    }
                }
                return differences
            }
        } catch {
            throw EngineError.database(error, path: path)
        }
    }
}

/// Work done on a thread of its own while the caller goes on; `value()` waits for its result.
/// The caller hands over what `body` uses and does not touch it until `value()` returns.
final class Aside<T>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<T, any Error> = .failure(EngineError(.failure, "internal: aside work never ran"))

    private let body: () throws -> T

    init(_ body: @escaping () throws -> T) {
        self.body = body
        let thread = Thread { [self] in
            result = Result(catching: self.body)
            done.signal()
        }
        thread.start()
    }

    func value() throws -> T {
        done.wait()
        done.signal() // A second call returns at once.
        return try result.get()
    }
}

extension Projection {
    /// Field-by-field differences between two projections, for `replay --verify`.
    public static func differences(_ a: Projection, _ b: Projection, limit: Int = 20) -> [String] {
        var out: [String] = []
        func note(_ s: String) { if out.count < limit { out.append(s) } }
        if a.position != b.position { note("position: inline \(a.position), replayed \(b.position)") }
        func compare<K: Hashable & Comparable, V: Equatable>(_ name: String, _ x: [K: V], _ y: [K: V]) {
            for key in Set(x.keys).union(y.keys).sorted() where x[key] != y[key] {
                note("\(name) \(key): inline \(x[key].map { "\($0)" } ?? "absent"), replayed \(y[key].map { "\($0)" } ?? "absent")")
                if out.count >= limit { return }
            }
        }
        compare("variant", a.variants, b.variants)
        compare("stock row", a.cells, b.cells)
        compare("store", a.stores, b.stores)
        compare("catalogue product", a.catalogue, b.catalogue)
        compare("pending push", a.pending, b.pending)
        compare("held value", a.held, b.held)
        return out
    }
}
