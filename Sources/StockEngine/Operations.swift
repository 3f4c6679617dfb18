import Foundation
import SQLite
import StockDomain

/// One attempt to deliver one item to a store: the audit trail from journal position to
/// WooCommerce's answer (SPEC §4). Operational: replay neither needs nor rebuilds it.
public struct DeliveryRecord: Sendable, Equatable {
    public var at: Instant
    public var store: StoreID
    public var wooID: WooID
    public var parentID: WooID?
    public var sku: String?
    public var position: Int64
    public var sent: Int64
    public var httpStatus: Int?
    public var errorCode: String?
    public var echoed: Int64?

    public init(at: Instant, store: StoreID, wooID: WooID, parentID: WooID?, sku: String?, position: Int64, sent: Int64,
                httpStatus: Int?, errorCode: String?, echoed: Int64?) {
        self.at = at; self.store = store; self.wooID = wooID; self.parentID = parentID; self.sku = sku
        self.position = position; self.sent = sent; self.httpStatus = httpStatus; self.errorCode = errorCode; self.echoed = echoed
    }
}

/// A store's dispatch state: paused (until its credentials change or `store resume`), or
/// backing off until `retryAt`. Survives restarts and `sync --once` runs.
public struct StoreStatus: Sendable, Equatable {
    public var store: StoreID
    public var pausedReason: String?
    /// The credentials fingerprint when the pause began.
    public var pausedFingerprint: String?
    public var retryAt: Instant?
    public var failures: Int

    public init(store: StoreID, pausedReason: String? = nil, pausedFingerprint: String? = nil, retryAt: Instant? = nil, failures: Int = 0) {
        self.store = store; self.pausedReason = pausedReason; self.pausedFingerprint = pausedFingerprint
        self.retryAt = retryAt; self.failures = failures
    }
}

extension Journal.Appender {
    /// Records delivery attempts in the same transaction as the events they caused.
    public func recordDeliveries(_ records: [DeliveryRecord]) throws {
        guard !records.isEmpty else { return }
        let insert = try journal.db.prepare("INSERT INTO deliveries (at, store, woo_id, parent_id, sku, position, sent, http_status, error_code, echoed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        for r in records {
            try insert.run([.integer(r.at.microseconds), .text(r.store), .integer(r.wooID), r.parentID.map { .integer($0) } ?? .null,
                            r.sku.map { .text($0) } ?? .null, .integer(r.position), .integer(r.sent),
                            r.httpStatus.map { .integer(Int64($0)) } ?? .null, r.errorCode.map { .text($0) } ?? .null,
                            r.echoed.map { .integer($0) } ?? .null])
        }
    }
}

extension Journal.Appender {
    /// Clears in-flight markers whose items got a definite answer, with the events recording it.
    public func clearInFlight(store: StoreID, wooIDs: [WooID]) throws {
        guard !wooIDs.isEmpty else { return }
        let delete = try journal.db.prepare("DELETE FROM in_flight WHERE store = ? AND woo_id = ?")
        for id in wooIDs { try delete.run([.text(store), .integer(id)]) }
    }
}

extension Journal {
    /// Marks values as being sent, before the request leaves: if the process dies before the
    /// answer is recorded, the store may hold the value while the journal does not know it.
    public func markInFlight(store: StoreID, _ items: [(wooID: WooID, sent: Int64)]) throws(EngineError) {
        guard !items.isEmpty else { return }
        do {
            try db.writeTransaction {
                let put = try db.prepare("INSERT OR REPLACE INTO in_flight (store, woo_id, sent, at) VALUES (?, ?, ?, ?)")
                let now = Instant.now.microseconds
                for item in items { try put.run([.text(store), .integer(item.wooID), .integer(item.sent), .integer(now)]) }
            }
        } catch { throw EngineError.database(error, path: path) }
    }

    /// Markers left by an interrupted run (or by requests still waiting for a retry).
    public func inFlight(store: StoreID) throws(EngineError) -> [WooID: Int64] {
        do {
            let s = try db.prepare("SELECT woo_id, sent FROM in_flight WHERE store = ?")
            try s.bind([.text(store)])
            var out: [WooID: Int64] = [:]
            while try s.step() { out[s.int(0)] = s.int(1) }
            return out
        } catch { throw EngineError.database(error, path: path) }
    }

    /// Delivery attempts, oldest first, optionally for one store and/or the products carrying a SKU.
    public func deliveries(store: StoreID? = nil, wooIDs: Set<WooID>? = nil, limit: Int? = nil) throws(EngineError) -> [DeliveryRecord] {
        do {
            var sql = "SELECT \(Self.deliveryColumns) FROM deliveries"
            var bindings: [SQLiteValue] = []
            if let store { sql += " WHERE store = ?"; bindings.append(.text(store)) }
            if store != nil, let wooIDs, wooIDs.count == 1, let only = wooIDs.first {
                sql += " AND woo_id = ?"; bindings.append(.integer(only))
            }
            sql += " ORDER BY seq"
            let s = try db.prepare(sql)
            try s.bind(bindings)
            var out: [DeliveryRecord] = []
            while try s.step() {
                let record = Self.deliveryRecord(s)
                if let wooIDs, !wooIDs.contains(record.wooID) { continue }
                out.append(record)
            }
            if let limit, out.count > limit { out = Array(out.suffix(limit)) }
            return out
        } catch { throw EngineError.database(error, path: path) }
    }

    /// The last attempt recorded for `store`, if any: `store list` shows it as the store's last answer.
    public func lastDelivery(store: StoreID) throws(EngineError) -> DeliveryRecord? {
        do {
            // Newest first along the table itself, stopping at the store's first row: through the
            // (store, woo_id) index SQLite would sort every attempt the store ever had.
            let s = try db.prepare("SELECT \(Self.deliveryColumns) FROM deliveries NOT INDEXED WHERE store = ? ORDER BY seq DESC LIMIT 1")
            try s.bind([.text(store)])
            return try s.step() ? Self.deliveryRecord(s) : nil
        } catch { throw EngineError.database(error, path: path) }
    }

    static let deliveryColumns = "at, store, woo_id, parent_id, sku, position, sent, http_status, error_code, echoed"

    /// A row selected with `deliveryColumns`.
    static func deliveryRecord(_ s: Statement) -> DeliveryRecord {
        DeliveryRecord(at: Instant(microseconds: s.int(0)), store: s.text(1), wooID: s.int(2), parentID: s.optionalInt(3),
                       sku: s.optionalText(4), position: s.int(5), sent: s.int(6), httpStatus: s.optionalInt(7).map { Int($0) },
                       errorCode: s.optionalText(8), echoed: s.optionalInt(9))
    }

    /// The delivery log's retention, an operator's call: deletes the attempts recorded before
    /// `cutoff` and returns how many went and how many remain. The journal keeps every
    /// acknowledgement and rejection, so what replay, `stock` and `explain`'s numbers rest on
    /// is untouched; only the HTTP-level detail of older attempts goes. SQLite reuses the freed
    /// pages for later rows rather than shrinking the file.
    public func pruneDeliveries(before cutoff: Instant) throws(EngineError) -> (removed: Int, remaining: Int) {
        do {
            return try db.writeTransaction {
                try db.prepare("DELETE FROM deliveries WHERE at < ?").run([.integer(cutoff.microseconds)])
                let removed = db.changes
                let remaining = try db.scalarInt("SELECT count(*) FROM deliveries") ?? 0
                return (removed, Int(remaining))
            }
        } catch { throw EngineError.database(error, path: path) }
    }

    public func storeStatus(_ store: StoreID) throws(EngineError) -> StoreStatus {
        do {
            let s = try db.prepare("SELECT paused_reason, paused_fingerprint, retry_at, failures FROM store_status WHERE store = ?")
            try s.bind([.text(store)])
            guard try s.step() else { return StoreStatus(store: store) }
            return StoreStatus(store: store, pausedReason: s.optionalText(0), pausedFingerprint: s.optionalText(1),
                               retryAt: s.optionalInt(2).map { Instant(microseconds: $0) }, failures: Int(s.int(3)))
        } catch { throw EngineError.database(error, path: path) }
    }

    public func allStoreStatuses() throws(EngineError) -> [StoreID: StoreStatus] {
        do {
            var out: [StoreID: StoreStatus] = [:]
            let s = try db.prepare("SELECT store FROM store_status")
            while try s.step() { out[s.text(0)] = try storeStatus(s.text(0)) }
            return out
        } catch let e as EngineError { throw e } catch { throw EngineError.database(error, path: path) }
    }

    public func setStoreStatus(_ status: StoreStatus) throws(EngineError) {
        do {
            try db.writeTransaction {
                try db.prepare("INSERT OR REPLACE INTO store_status (store, paused_reason, paused_fingerprint, retry_at, failures) VALUES (?, ?, ?, ?, ?)")
                    .run([.text(status.store), status.pausedReason.map { .text($0) } ?? .null, status.pausedFingerprint.map { .text($0) } ?? .null,
                          status.retryAt.map { .integer($0.microseconds) } ?? .null, .integer(Int64(status.failures))])
            }
        } catch { throw EngineError.database(error, path: path) }
    }
}

extension Journal {
    /// Flushes a file or directory to stable storage. A file system that cannot sync this kind
    /// of file (EINVAL: some do not sync directories) is not a failure of the write.
    static func flushToDisk(_ path: String) throws(EngineError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw EngineError(.io, "\(path): cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 || errno == EINVAL else { throw EngineError(.io, "\(path): cannot sync to disk: \(String(cString: strerror(errno)))") }
    }

    /// Copies the whole database at `source` (journal, projections, outbox, delivery log, store
    /// status) into a new file at `target`, from one read snapshot, while other commands go on
    /// reading and appending: SQLite's `VACUUM INTO`, which also leaves out free pages; the copy
    /// is in WAL mode like the original. Any stocksync file is copied as it is, whatever its
    /// schema version, so a file can be saved before a newer build migrates it. Never overwrites
    /// a file. Returns the last position the copy holds.
    public static func backup(_ source: String, to target: String) throws(EngineError) -> Int64 {
        guard try databaseFileExists(source) else {
            throw EngineError(.io, "\(source): no such database")
        }
        let db: Database
        do {
            db = try Database(path: source, mode: .readOnly, busyTimeoutMilliseconds: busyTimeoutMilliseconds)
            guard try db.scalarInt("PRAGMA application_id") == Schema.applicationID else {
                throw EngineError(.io, "\(source): not a stocksync database; refusing to copy it")
            }
        } catch let error as EngineError {
            throw error
        } catch {
            throw EngineError(.io, "\(source): not a readable SQLite database (\(error))")
        }
        // Claimed empty first, with O_EXCL: `VACUUM INTO` accepts an empty file, and no other
        // process's file can be taken (or removed on failure) between a check and the copy.
        let fd = open(target, O_CREAT | O_EXCL | O_WRONLY, 0o666)
        guard fd >= 0 else {
            if errno == EEXIST { throw EngineError(.io, "\(target): already exists; a backup never overwrites a file (nothing was written)") }
            throw EngineError(.io, "\(target): cannot create the backup: \(String(cString: strerror(errno)))")
        }
        close(fd)
        do {
            try db.prepare("VACUUM INTO ?").run([.text(target)])
            // The copy is written in rollback-journal mode; restored, it must behave as the
            // original did (readers beside a writer), and WAL mode is a property of the file.
            let copy = try Database(path: target)
            try copy.execute("PRAGMA journal_mode=WAL")
            let position = try copy.scalarInt("SELECT max(position) FROM journal") ?? 0
            // `VACUUM INTO` does not sync what it writes: a backup reported as made must survive
            // a power cut, its directory entry included.
            try Journal.flushToDisk(target)
            let directory = (target as NSString).deletingLastPathComponent
            try Journal.flushToDisk(directory.isEmpty ? "." : directory)
            return position
        } catch {
            // Nothing half-written: the file is this call's own.
            Journal.removeFiles(of: target)
            throw EngineError(.io, "\(target): cannot write the backup (nothing was kept): \(error)")
        }
    }
}
