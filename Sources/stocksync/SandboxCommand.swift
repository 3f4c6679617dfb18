import ArgumentParser
import Foundation
import StockDomain
import StockEngine
import WooCommerceSandbox

struct Sandbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a WooCommerce-compatible test store on 127.0.0.1, to rehearse before touching a live shop.",
        discussion: """
        The first line on stdout is 'listening on http://127.0.0.1:PORT'.
        Faults (--faults, or POST /__sandbox/faults at run time): comma-separated name=value settings:
          status=CODE      answer every request with CODE, limited by count=N and/or seconds=S
          retry-after=S    add 'Retry-After: S' to those answers (for 429 and 503)
          error-rate=P     answer a fraction P of requests with 500
          drop-rate=P      close a fraction P of connections without answering
          drop=1           close every connection without answering (count/seconds apply)
          latency-ms=N     delay every answer by N ms
          batch-limit=N    accept at most N items per batch (413 above), as a host may configure
          hide=ID          leave product ID out of listings (repeatable), as paging can
          total-pages=N    report X-WP-TotalPages: N whatever a listing holds (a stale cache)
          redirect=URL     answer 301 to URL + the path asked, as WordPress does when the site moved
          item-error=ID:STATUS:CODE  refuse product ID's item in batches with that error (repeatable)
          item-missing=ID  save product ID in batches but leave it out of the answer (repeatable)
          stock-management=off  the store-wide stock option off: items report manage_stock false,
                           stock_quantity null, and products ignore stock writes
        Example: --faults status=503,count=20,retry-after=1
        Inspection: GET /__sandbox/requests (the latest 100,000), GET /__sandbox/products (no auth).
        """
    )
    @Option(help: "Port (default: a free ephemeral one).") var port: Int = 0
    @Option(help: ArgumentHelp("A JSON array of products (with 'variations' arrays), loaded as a database import would.", valueName: "file"))
    var seed: String?
    @Option(name: .customLong("consumer-key"), help: "The REST API key to accept (default: generated and printed).") var consumerKey: String?
    @Option(name: .customLong("consumer-secret"), help: "The REST API secret to accept (default: generated and printed).") var consumerSecret: String?
    @Flag(name: .customLong("assume-https"), help: "Behave as behind a TLS-terminating proxy: Basic auth and query keys instead of OAuth 1.0a.")
    var assumeHTTPS = false
    @Option(help: "Injected faults (see above).") var faults: String = ""

    func validate() throws {
        // Out of range, the port would be truncated to 16 bits and another one used silently.
        guard (0...65_535).contains(port) else { throw ValidationError("--port: \(port) is not a TCP port (0–65535; 0 picks a free one)") }
    }

    func run() async throws {
        try await reportingErrors {
            let plan: FaultPlan
            do { plan = try FaultPlan(parsing: faults) } catch { throw EngineError(.usage, "\(error)") }
            var seedValue: JSONValue? = nil
            if let seed {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: seed, isDirectory: &isDirectory) else { throw EngineError(.io, "\(seed): no such file") }
                guard !isDirectory.boolValue else { throw EngineError(.io, "\(seed): is a directory; give the seed file's path") }
                guard let data = FileManager.default.contents(atPath: seed) else { throw EngineError(.io, "\(seed): cannot read") }
                do { seedValue = try JSONReader.parseFile(String(decoding: data, as: UTF8.self)) } catch {
                    throw EngineError(.badInput, "\(seed): \(error)")
                }
            }
            let server: SandboxServer
            do {
                server = try await SandboxServer.start(port: port, consumerKey: consumerKey, consumerSecret: consumerSecret,
                                                       assumeHTTPS: assumeHTTPS, seed: seedValue, faults: plan)
            } catch let e as SandboxError {
                throw EngineError(.badInput, e.description)
            } catch {
                throw EngineError(.io, "cannot listen on 127.0.0.1:\(port): \(error)")
            }
            emit("listening on \(server.url)")
            if consumerKey == nil || consumerSecret == nil {
                emit("consumer key: \(server.consumerKey)\nconsumer secret: \(server.consumerSecret)")
            }
            let stop = StopFlag()
            let sources = stop.trapSignals()
            defer { sources.forEach { $0.cancel() } }
            while !stop.isSet { try? await Task.sleep(nanoseconds: 100_000_000) }
            try? await server.shutdown()
        }
    }
}
