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
        .library(name: "WooCommerce", targets: ["WooCommerce"]),
        .library(name: "WooCommerceSandbox", targets: ["WooCommerceSandbox"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // The system libsqlite3 (apt-get install -y libsqlite3-dev).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // A thin, typed layer over SQLite: connections, prepared statements, transactions.
        .target(name: "SQLite", dependencies: ["CSQLite"]),
        // The pure domain: quantities, events, the fold, matching, the outbox rule. No I/O.
        .target(name: "StockDomain"),
        // The journal in SQLite, inline projections, replay, queries, explain.
        .target(name: "StockEngine", dependencies: ["StockDomain", "SQLite"]),
        // The WooCommerce REST API v3 client: auth (Basic, OAuth 1.0a, query keys), catalogue, batches.
        .target(name: "WooCommerce", dependencies: [
            "StockDomain",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The dispatcher and catalogue refresh: wires the journal to WooCommerce stores.
        .target(name: "StockSyncService", dependencies: ["StockEngine", "WooCommerce", "SQLite"]),
        // A WooCommerce-compatible test store (shipped: `stocksync sandbox`), with fault injection.
        .target(name: "WooCommerceSandbox", dependencies: [
            "StockDomain", "WooCommerce",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The command-line interface.
        .executableTarget(
            name: "stocksync",
            dependencies: ["StockEngine", "StockSyncService", "WooCommerceSandbox",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Helpers shared by tests and the benchmark: history generator, fixture runner, subprocesses.
        .target(name: "StockSyncTesting", dependencies: ["StockEngine", "StockDomain", "SQLite"]),
        .executableTarget(
            name: "stocksync-bench",
            dependencies: ["StockEngine", "StockSyncTesting", "SQLite", "StockSyncService", "WooCommerce", "WooCommerceSandbox",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            path: "Benchmarks/stocksync-bench"
        ),
        .testTarget(name: "StockDomainTests", dependencies: ["StockDomain"]),
        .testTarget(
            name: "DispatchTests",
            dependencies: ["StockEngine", "StockSyncTesting", "stocksync", "WooCommerce", "WooCommerceSandbox", "StockSyncService",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        .testTarget(
            name: "StockEngineTests",
            dependencies: ["StockEngine", "StockSyncTesting", "SQLite", "stocksync"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
