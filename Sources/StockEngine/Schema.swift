import SQLite

/// The database layout and its versions. `PRAGMA application_id` marks a stocksync file, so a
/// foreign database is refused rather than written into; `user_version` is the schema version.
enum Schema {
    /// "STKS".
    static let applicationID: Int64 = 0x5354_4B53
    static let currentVersion: Int64 = 6
    /// The first version whose writes mark each projection table they change.
    static let tablesMarkedSince: Int64 = 6
    /// The oldest version read-only commands can use as it is.
    static let readableWithoutMigration: Int64 = 4

    /// Forward migrations: entry i turns version i into version i+1.
    static let migrations: [String] = [
        // 0 → 1: the journal, the projections, the outbox.
        """
        CREATE TABLE journal (
            position INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            at TEXT NOT NULL,
            recorded_at INTEGER NOT NULL,
            data TEXT NOT NULL
        );
        CREATE TABLE projection_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        \(projectionTables)
        """,
        // 1 → 2: operational state outside the journal: the delivery log, pause and backoff.
        """
        CREATE TABLE deliveries (
            seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, store TEXT NOT NULL, woo_id INTEGER NOT NULL,
            parent_id INTEGER, sku TEXT, position INTEGER NOT NULL, sent INTEGER NOT NULL,
            http_status INTEGER, error_code TEXT, echoed INTEGER);
        CREATE INDEX deliveries_by_product ON deliveries (store, woo_id);
        CREATE TABLE store_status (
            store TEXT PRIMARY KEY, paused_reason TEXT, paused_fingerprint TEXT,
            retry_at INTEGER, failures INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE in_flight (
            store TEXT NOT NULL, woo_id INTEGER NOT NULL, sent INTEGER NOT NULL, at INTEGER NOT NULL,
            PRIMARY KEY (store, woo_id)) WITHOUT ROWID;
        """,
        // 2 → 3: journal payloads are written in the compact binary encoding (BinaryPayload).
        // Rows are never rewritten (the journal is append-only): JSON payloads of older versions
        // stay as they are and still read. The version marks files an older build cannot read.
        "-- no table changes",
        // 3 → 4: document records store their effects packed (EffectList) instead of in fixed
        // 33-byte records. Projections are derived data: they are dropped here, and the command
        // that migrates rebuilds them from the journal at once (`Journal.init`).
        projectionTableNames.map { "DELETE FROM \($0);" }.joined() + "DELETE FROM projection_meta;",
        // 4 → 5: variant declarations are written in the binary encoding too. Rows written as
        // JSON stay and still read; the version marks files an older build cannot read.
        "-- no table changes",
        // 5 → 6: `projection_meta` records the position of each projection table's last change
        // ('changed:cells', …), which a long-running process reads to reload only those tables.
        // The version keeps older builds, which would write tables without marking them, out.
        // No mark is needed for what happened before: a projection kept in memory is read after
        // the file reached this version.
        "-- no table changes",
    ]

    /// Tables derived from the journal; replay drops and rebuilds them.
    static let projectionTableNames = ["variants", "cells", "stores", "catalogue", "outbox", "held", "documents"]

    static let projectionTables = """
        CREATE TABLE IF NOT EXISTS variants (variant_id INTEGER PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS cells (
            variant_id INTEGER NOT NULL, location_id INTEGER NOT NULL,
            in_stock TEXT NOT NULL, committed_total TEXT NOT NULL, expected TEXT NOT NULL,
            committed_sync TEXT NOT NULL, committed_sync_woocommerce TEXT NOT NULL,
            PRIMARY KEY (variant_id, location_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS stores (
            store TEXT PRIMARY KEY, url TEXT NOT NULL, location_id INTEGER NOT NULL, stock_sync INTEGER NOT NULL,
            katana_orders_reduce_stock INTEGER NOT NULL, floor_at_zero INTEGER NOT NULL, connected INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS catalogue (
            store TEXT NOT NULL, woo_id INTEGER NOT NULL, parent_id INTEGER, sku TEXT,
            date_created TEXT, type TEXT, PRIMARY KEY (store, woo_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS outbox (
            store TEXT NOT NULL, woo_id INTEGER NOT NULL, quantity INTEGER NOT NULL, position INTEGER NOT NULL,
            PRIMARY KEY (store, woo_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS held (
            store TEXT NOT NULL, woo_id INTEGER NOT NULL, quantity INTEGER NOT NULL,
            PRIMARY KEY (store, woo_id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS documents (
            kind INTEGER NOT NULL, id INTEGER NOT NULL, updated_seconds INTEGER, updated_nanos INTEGER,
            position INTEGER NOT NULL, deleted INTEGER NOT NULL, effects BLOB NOT NULL,
            PRIMARY KEY (kind, id)) WITHOUT ROWID;
        """

    /// The first version whose projections an older file's cannot be read as: migrating past
    /// it drops them, and the caller rebuilds them from the journal.
    static let projectionsRebuiltAt: Int64 = 4

    /// Checks that `db` is a stocksync database this build understands, creating or migrating
    /// it when `writable`. A read-only open of an empty file is an error (nothing is created).
    /// Returns true when a migration dropped the projections of an existing journal.
    @discardableResult
    static func prepare(_ db: Database, writable: Bool) throws(EngineError) -> Bool {
        let appID: Int64
        let version: Int64
        let tableCount: Int64
        do {
            appID = try db.scalarInt("PRAGMA application_id") ?? 0
            version = try db.scalarInt("PRAGMA user_version") ?? 0
            tableCount = try db.scalarInt("SELECT count(*) FROM sqlite_master") ?? 0
        } catch {
            throw EngineError(.io, "\(db.path): not a readable SQLite database (\((error as? SQLiteError)?.message ?? "\(error)"))")
        }
        if appID != applicationID {
            if tableCount > 0 || appID != 0 {
                throw EngineError(.io, "\(db.path): not a stocksync database (it holds other data); refusing to touch it")
            }
            guard writable else { throw EngineError(.io, "\(db.path): database is empty") }
        }
        if version > currentVersion {
            throw EngineError(.io, "\(db.path): database schema version \(version) is newer than this stocksync supports (\(currentVersion)); upgrade stocksync")
        }
        guard version < currentVersion else { return false }
        guard writable else {
            // Migrations from here on change no table: an older file reads as it is.
            if version >= readableWithoutMigration { return false }
            throw EngineError(.io, "\(db.path): database schema version \(version) needs migrating; run `stocksync replay` (or any command that writes) first")
        }
        do {
            if tableCount == 0 { try db.setPageSize(Journal.pageSize) }
            try db.execute("PRAGMA journal_mode=WAL")
            return try db.writeTransaction {
                // Re-read inside the lock: another process may have migrated meanwhile.
                var v = try db.scalarInt("PRAGMA user_version") ?? 0
                let dropsProjections = v > 0 && v < projectionsRebuiltAt
                while v < currentVersion {
                    try db.execute(migrations[Int(v)])
                    v += 1
                }
                try db.execute("PRAGMA application_id = \(applicationID)")
                try db.execute("PRAGMA user_version = \(currentVersion)")
                return dropsProjections
            }
        } catch let error as SQLiteError {
            throw error.isBusy ? EngineError(.temporary, "\(db.path): database is busy; try again") :
                EngineError(.io, "\(db.path): cannot initialise database: \(error.message)")
        } catch {
            throw EngineError(.io, "\(db.path): cannot initialise database: \(error)")
        }
    }
}

extension EngineError {
    /// Maps an SQLite failure to the exit-code classes of SPEC §7.
    static func database(_ error: any Error, path: String) -> EngineError {
        if let e = error as? EngineError { return e }
        if let e = error as? SQLiteError {
            if e.isBusy { return EngineError(.temporary, "\(path): database is busy (another writer holds it); try again") }
            return EngineError(.io, "\(path): database error: \(e.message)")
        }
        return EngineError(.io, "\(path): \(error)")
    }
}
