#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of one `ingest` call, every one opened before anything is read: a missing file
/// fails the call at once, and before the command opens (and perhaps creates) the database.
/// `Journal.ingest` consumes it; a caller that gives up before that calls `close()`.
public struct IngestInput: Sendable {
    let readers: [LineReader]

    /// Opens `paths` ("-" is standard input).
    public init(_ paths: [String]) throws(EngineError) {
        var readers: [LineReader] = []
        do {
            for p in paths { readers.append(try LineReader(path: p)) }
        } catch {
            readers.forEach { $0.close() }
            throw error
        }
        self.readers = readers
    }

    public func close() { readers.forEach { $0.close() } }

    /// This input with every stream (standard input from a pipe or a terminal, a named pipe)
    /// first read to its end into an unlinked file in `directory`. One call is one transaction,
    /// and its write lock is taken before the first line is read: a fetcher piping events in as
    /// it gets them from Katana's API (minutes, at its rate limit) held every other writer off
    /// meanwhile — `sync` could not mark or record a single push. A regular file is read as it
    /// is. Consumes `self`: on failure every reader is closed.
    public func spoolingStreams(in directory: String) throws(EngineError) -> IngestInput {
        var spooled: [LineReader] = []
        for (i, reader) in readers.enumerated() {
            var st = stat()
            guard fstat(reader.fd, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG else { spooled.append(reader); continue }
            do {
                spooled.append(try LineReader.spool(reader, in: directory))  // closes `reader`
            } catch {
                (spooled + readers[(i + 1)...]).forEach { $0.close() }
                throw error
            }
        }
        return IngestInput(readers: spooled)
    }

    init(readers: [LineReader]) { self.readers = readers }
}

/// Reads a file (or standard input) line by line in large chunks, without holding it whole.
struct LineReader: Sendable {
    let fd: Int32
    let name: String
    let ownsDescriptor: Bool

    /// Opens `path`, or standard input for "-".
    init(path: String) throws(EngineError) {
        if path == "-" {
            fd = 0; name = "<stdin>"; ownsDescriptor = false
            return
        }
        let f = open(path, O_RDONLY)
        guard f >= 0 else {
            throw EngineError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
        }
        var st = stat()
        if fstat(f, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
            Glibc.close(f)
            throw EngineError(.io, "\(path): is a directory")
        }
        fd = f; name = path; ownsDescriptor = true
    }

    init(fd: Int32, name: String, ownsDescriptor: Bool) {
        self.fd = fd; self.name = name; self.ownsDescriptor = ownsDescriptor
    }

    func close() { if ownsDescriptor { _ = Glibc.close(fd) } }

    /// `source` read to its end into a new file in `directory` (the database's: it has room
    /// for what is about to be appended, where /tmp may be a small tmpfs), unlinked at once so
    /// nothing is left behind whatever happens, and a reader over that file under `source`'s
    /// name, so errors still say `<stdin>:LINE`. `source` is closed.
    static func spool(_ source: LineReader, in directory: String) throws(EngineError) -> LineReader {
        defer { source.close() }
        var template = Array((directory + "/.stocksync-ingest-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw EngineError(.io, "\(directory): cannot create a file to hold \(source.name) until its end (\(String(cString: strerror(errno))))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let spooled = LineReader(fd: fd, name: source.name, ownsDescriptor: true)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n: Int
            do throws(EngineError) { n = try buffer.withUnsafeMutableBufferPointer { p throws(EngineError) in try source.read(into: p) } } catch { spooled.close(); throw error }
            if n == 0 { break }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBufferPointer { write(fd, $0.baseAddress! + written, n - written) }
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else {
                    let reason = String(cString: strerror(errno))
                    spooled.close()
                    throw EngineError(.io, "\(directory): cannot hold \(source.name) until its end (\(reason)); nothing was appended")
                }
                written += w
            }
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            spooled.close()
            throw EngineError(.io, "\(directory): cannot read back \(source.name) (\(String(cString: strerror(errno))))")
        }
        return spooled
    }

    /// Reads what is there into `buffer` (0 at the end), again when a signal interrupts.
    func read(into buffer: UnsafeMutableBufferPointer<UInt8>) throws(EngineError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress!, buffer.count)
            if n >= 0 { return n }
            guard errno == EINTR else { throw EngineError(.io, "\(name): read failed (\(String(cString: strerror(errno))))") }
        }
    }

    /// Calls `body` with each line (without its newline, CR trimmed, a byte order mark opening
    /// the input skipped) and its 1-based number.
    func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var start = 0
        var end = 0
        var lineNumber = 0
        var openingChecked = false
        while true {
            if start > 0 {
                // Move the incomplete tail to the front.
                buffer.withUnsafeMutableBufferPointer { p in
                    _ = memmove(p.baseAddress!, p.baseAddress! + start, end - start)
                }
                end -= start
                start = 0
            }
            if end == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
            let n = try buffer.withUnsafeMutableBufferPointer { p in try read(into: UnsafeMutableBufferPointer(rebasing: p[end...])) }
            let eof = n == 0
            end += n
            if !openingChecked {
                // A byte order mark opening the input is skipped: RFC 8259 lets a parser ignore
                // it, and Windows editors save "UTF-8" with one. Anywhere else it is bad JSON.
                let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
                let seen = min(end, 3)
                if seen < 3 && !eof && buffer[..<seen].elementsEqual(mark[..<seen]) { continue }
                if seen < 2 && !eof { continue }
                openingChecked = true
                if seen == 3 && buffer[..<3].elementsEqual(mark) { start = 3 }
                // UTF-16 (what Windows PowerShell 5 writes with '>'), with or without its mark:
                // every other byte of its JSON is NUL. Said as such, not as a bad first character.
                if seen >= 2 && (buffer[0] == 0xFF && buffer[1] == 0xFE || buffer[0] == 0xFE && buffer[1] == 0xFF
                                 || buffer[0] == 0x7B && buffer[1] == 0 || buffer[0] == 0 && buffer[1] == 0x7B) {
                    throw EngineError(.badInput, "\(name):1: the file is UTF-16; ingest reads UTF-8 JSON Lines: save it as UTF-8 (in PowerShell, Out-File -Encoding utf8)")
                }
            }
            try buffer.withUnsafeBufferPointer { p in
                var i = start
                while i < end {
                    if p[i] == 0x0A {
                        lineNumber += 1
                        var lineEnd = i
                        if lineEnd > start, p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                        try body(UnsafeBufferPointer(rebasing: p[start..<lineEnd]), lineNumber)
                        start = i + 1
                    }
                    i += 1
                }
                if eof, start < end {
                    lineNumber += 1
                    var lineEnd = end
                    if p[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                    try body(UnsafeBufferPointer(rebasing: p[start..<lineEnd]), lineNumber)
                    start = end
                }
            }
            if eof { return }
            if end - start > LineReader.maxLineBytes {
                // A file that is not JSON Lines (one JSON document, a binary file) would otherwise
                // be read whole into memory looking for the end of its first line.
                throw EngineError(.badInput, "\(name):\(lineNumber + 1): line longer than \(LineReader.maxLineBytes >> 20) MiB; ingest reads JSON Lines: one event per line")
            }
        }
    }

    /// Far above any Katana document (a sales order of a thousand rows is about 150 KB).
    static let maxLineBytes = 16 << 20
}
