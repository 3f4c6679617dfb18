import ArgumentParser
import Foundation
import StockEngine

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Build a realistic history in a fresh temporary database and show what each store would receive.")
    @Option(help: ArgumentHelp("The demo history (default: Fixtures/demo/history.jsonl of this checkout).", valueName: "file"))
    var history: String?

    func run() throws {
        try reportingErrors {
            let file = try history ?? Demo.defaultHistory()
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stocksync-demo-\(UUID().uuidString)")
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let journal = try Journal(path: dir.appendingPathComponent("demo.db").path, writable: true)
            let summary = try journal.ingest([file])
            let view = try journal.state()
            let p = view.projection
            emit("stocksync demo — \(summary.appended) Katana and WooCommerce events from \(file)\n")
            emit("Stores:\n" + Render.storesText(p) + "\n")
            for store in p.stores.keys.sorted() where p.stores[store]?.connected == true {
                emit("Stock for store '\(store)':")
                emit(Render.stockText(position: p.position, rows: try p.stockRows(store: store)) + "\n")
            }
            emit("What each store would receive next (the outbox):\n" + Render.outboxText(p) + "\n")
            emit("Why does 'main' get that number for DESK-OAK?")
            emit(try StockEngine.Explain.render(.sku("DESK-OAK"), store: "main", in: view))
        }
    }

    /// The fixture beside this source tree (the demo runs from a checkout), else the working directory's.
    static func defaultHistory() throws(EngineError) -> String {
        let source = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/demo/history.jsonl").path
        for candidate in [source, "Fixtures/demo/history.jsonl"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw EngineError(.io, "Fixtures/demo/history.jsonl not found; pass --history FILE")
    }
}
