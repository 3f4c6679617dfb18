// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stocksync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "stocksync", targets: ["stocksync"]),
        .executable(name: "stocksync-bench", targets: ["stocksync-bench"]),
        .library(name: "StockDomain", targets: ["StockDomain"]),
        .library(name: "StockEngine", targets: ["StockEngine"]),
        .library(name: "StockSyncTesting", targets: ["StockSyncTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The system libsqlite3 (apt-get install -y libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // A thin, typed layer over SQLite: connections, prepared statements, transactions.
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        // The pure domain: quantities, events, the fold, matching, the outbox rule. No I/O.
        .target(name: "StockDomain", swiftSettings: [.unsafeFlags(["-cross-module-optimization"])]),
        // The journal in SQLite, inline projections, replay, queries, explain.
        .target(name: "StockEngine", dependencies: ["StockDomain", "SQLite"]),
        // The command-line interface.
        .executableTarget(
            name: "stocksync",
            dependencies: ["StockEngine", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Helpers shared by tests and the benchmark: history generator, fixture runner, subprocesses.
        .target(name: "StockSyncTesting", dependencies: ["StockEngine", "StockDomain", "SQLite"]),
        .executableTarget(
            name: "stocksync-bench",
            dependencies: ["StockEngine", "StockSyncTesting", "SQLite"],
            path: "Benchmarks/stocksync-bench"
        ),
        .testTarget(name: "StockDomainTests", dependencies: ["StockDomain"]),
        .testTarget(
            name: "StockEngineTests",
            dependencies: ["StockEngine", "StockSyncTesting", "SQLite", "stocksync"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
