import Foundation

extension Journal {
    /// Runs `write` on the journal at `path`, starting one when there is none, so that a new
    /// database appears whole or not at all: a first `ingest` refused for a bad line leaves no
    /// empty database behind for the next command to take for a real one.
    ///
    /// A new journal is written under a hidden name beside `path`, checkpointed and closed,
    /// then given its name with `link(2)`, which fails rather than replace a file another
    /// process created meanwhile (that call then exits 75 with nothing appended, to be run
    /// again). Deleting a failed new database afterwards instead would not be safe: another
    /// process may have opened it meanwhile and be writing to it.
    public static func write<R>(creatingIfMissing path: String, _ write: (Journal) throws(EngineError) -> R) throws(EngineError) -> R {
        if try Journal.databaseFileExists(path) || path.isEmpty || path == ":memory:" {
            return try write(Journal(path: path, writable: true, creating: true))
        }
        // A symbolic link with no file behind it yet is made to point at the new database, as
        // SQLite would have created the file it names.
        let url = URL(fileURLWithPath: Journal.linkTarget(path))
        let directory = url.deletingLastPathComponent().path
        let prefix = ".\(url.lastPathComponent).new-"
        Journal.removeAbandonedDrafts(in: directory, prefix: prefix)
        let draft = directory + "/" + prefix + UUID().uuidString.prefix(8)
        // Held while the draft is written, so that a later call knows it is not abandoned.
        // Closed only after SQLite closed the file: closing a descriptor of a file drops every
        // POSIX lock the process holds on it, SQLite's included.
        func cannotCreate(_ code: Int32) -> EngineError {
            EngineError(.io, "\(path): cannot create the database: \(String(cString: strerror(code)))")
        }
        let claim = open(draft, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard claim >= 0 else { throw cannotCreate(errno) }
        defer {
            Journal.removeFiles(of: draft)
            close(claim)
        }
        guard flock(claim, LOCK_EX | LOCK_NB) == 0 else { throw cannotCreate(errno) }
        let result: R
        do throws(EngineError) {
            let journal = try Journal(path: draft, writable: true, creating: true)
            result = try write(journal)
            // Everything into the main file: the WAL is named after the draft, not `path`.
            do { try journal.db.execute("PRAGMA wal_checkpoint(TRUNCATE)") } catch { throw EngineError.database(error, path: path) }
        } catch {
            throw error.naming(draft, as: path)
        }
        if link(draft, url.path) != 0 {
            let code = errno
            if code == EEXIST {
                throw EngineError(.temporary, "\(path): another process created this database meanwhile; nothing was written, run the command again")
            }
            // A file system without hard links (some network and FAT mounts) gets a rename, which
            // would replace a database created in the instant since this check.
            guard [EPERM, ENOTSUP, EOPNOTSUPP, ENOSYS].contains(code), !(try Journal.databaseFileExists(url.path)), rename(draft, url.path) == 0 else {
                throw cannotCreate(code)
            }
        }
        // The new name must survive a power cut as the commit inside it would. The write is
        // committed and named by now: a failed sync is not reported as a failed write.
        try? Journal.flushToDisk(directory)
        return result
    }

    /// The file `path` names through any symbolic links (relative ones from their own directory).
    static func linkTarget(_ path: String) -> String {
        var current = path
        for _ in 0..<32 {
            var st = stat()
            guard lstat(current, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK else { break }
            var bytes = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let count = readlink(current, &bytes, bytes.count - 1)
            guard count > 0 else { break }
            let target = String(decoding: bytes[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : URL(fileURLWithPath: current).deletingLastPathComponent().path + "/" + target
        }
        return current
    }

    /// Removes the drafts of new databases that no process is writing any more (a first
    /// `ingest` interrupted by Ctrl-C or killed): nobody holds their lock.
    static func removeAbandonedDrafts(in directory: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names where name.hasPrefix(prefix) && !sidecarSuffixes.contains(where: name.hasSuffix) {
            let draft = directory + "/" + name
            let fd = open(draft, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 { removeFiles(of: draft) }
            close(fd)
        }
    }

    /// The files SQLite keeps beside a database, by the suffix of their names.
    static let sidecarSuffixes = ["-wal", "-shm", "-journal"]

    /// Removes a database file and the files SQLite keeps beside it.
    static func removeFiles(of path: String) {
        for suffix in [""] + sidecarSuffixes { unlink(path + suffix) }
    }
}

extension EngineError {
    /// This error, naming `path` where it named `draft` (a new database's hidden name).
    func naming(_ draft: String, as path: String) -> EngineError {
        EngineError(kind, message.replacingOccurrences(of: draft, with: path))
    }
}
