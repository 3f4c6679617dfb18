import Foundation

/// A fresh directory under the system temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(_ prefix: String = "stocksync-test") {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Where this checkout keeps things: fixtures and the built `stocksync` binary.
public enum Checkout {
    /// The package root, found from this source file's path.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static var fixtures: URL { root.appendingPathComponent("Fixtures") }

    /// Every scenario directory under Fixtures/scenarios, sorted by name.
    public static func scenarioNames() -> [String] {
        let dir = fixtures.appendingPathComponent("scenarios")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { name in
            FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).appendingPathComponent("events.jsonl").path)
        }.sorted()
    }

    public static func scenario(_ name: String) -> URL {
        fixtures.appendingPathComponent("scenarios").appendingPathComponent(name)
    }

    /// The `stocksync` executable built beside the running tests.
    public static func stocksyncBinary() -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stocksync").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        for config in ["debug", "release"] {
            let candidate = root.appendingPathComponent(".build/\(config)/stocksync").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return beside
    }
}

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs the real `stocksync` binary as a subprocess.
public enum CLI {
    @discardableResult
    /// `directory` is the child's working directory (default: this process's).
    /// `fileSizeLimitKiB` runs the child under `ulimit -f` with SIGXFSZ ignored, so a write past
    /// the limit fails with EFBIG as a full disk fails a write: the failure path, for real.
    public static func run(_ arguments: [String], stdin: Data? = nil, environment: [String: String] = [:],
                           fileSizeLimitKiB: Int? = nil, directory: String? = nil) throws -> CommandResult {
        let process = Process()
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let limit = fileSizeLimitKiB {
            // An ignored signal stays ignored across exec; ulimit -f counts 512-byte blocks.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", #"trap '' XFSZ; ulimit -f \#(limit * 2) && exec "$0" "$@""#, Checkout.stocksyncBinary()] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: Checkout.stocksyncBinary())
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "STOCKSYNC_DB")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try? input.fileHandleForWriting.close()
        // Read both pipes concurrently so a full pipe never blocks the child.
        let errData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.set(err.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus,
                             stdout: String(decoding: outData, as: UTF8.self),
                             stderr: String(decoding: errData.get(), as: UTF8.self))
    }
}

final class LockedData: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Seeds for the randomized tests. `swift test` runs the ones each test names; with
/// `STOCKSYNC_SOAK=N` in the environment it runs N times as many, the new ones numbered after
/// them: a deeper search for rare histories than CI has time for, before a release or after a
/// change to the fold. Anything but a whole number from 1 to 1,000 counts as 1, and
/// `factor(_:)` says why, so a test can refuse it.
public enum Soak {
    public static let variable = "STOCKSYNC_SOAK"

    /// The environment's factor, or a message naming what is wrong with it.
    public static func factor(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Result<Int, SoakSettingError> {
        guard let text = environment[variable] else { return .success(1) }
        guard let n = Int(text), (1...1_000).contains(n) else {
            return .failure(SoakSettingError(message: "\(variable)=\(text): expected a whole number from 1 to 1000"))
        }
        return .success(n)
    }

    /// `base`, then `base.count × (factor − 1)` more seeds after its largest.
    public static func seeds(_ base: [UInt64], factor: Int) -> [UInt64] {
        guard factor > 1, let last = base.max() else { return base }
        return base + (1...UInt64(base.count * (factor - 1))).map { last + $0 }
    }

    /// `base` widened by the environment's factor.
    public static func seeds(_ base: [UInt64]) -> [UInt64] {
        seeds(base, factor: (try? factor().get()) ?? 1)
    }

    public static func seeds(_ base: ClosedRange<UInt64>) -> [UInt64] { seeds(Array(base)) }
}

/// A `STOCKSYNC_SOAK` value that is not a factor.
public struct SoakSettingError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
