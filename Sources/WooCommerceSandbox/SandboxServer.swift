import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import StockDomain
import WooCommerce

/// A WooCommerce-compatible test store on 127.0.0.1: `stocksync sandbox`, the demo and the
/// integration tests talk to it over real HTTP, exactly as they would to a live shop.
public final class SandboxServer: Sendable {
    let store: SandboxStore
    let channel: any Channel
    let connections: Connections
    /// `http://127.0.0.1:PORT` — the store URL to connect.
    public let url: String
    public let consumerKey: String
    public let consumerSecret: String

    init(store: SandboxStore, channel: any Channel, connections: Connections, url: String, consumerKey: String, consumerSecret: String) {
        self.store = store; self.channel = channel; self.connections = connections; self.url = url
        self.consumerKey = consumerKey; self.consumerSecret = consumerSecret
    }

    /// Starts a store. Port 0 picks a free ephemeral port. Without keys, random
    /// WooCommerce-shaped ones are generated.
    public static func start(port: Int = 0, consumerKey: String? = nil, consumerSecret: String? = nil, assumeHTTPS: Bool = false,
                             seed: JSONValue? = nil, faults: FaultPlan = FaultPlan()) async throws -> SandboxServer {
        func random40() -> String { (0..<40).map { _ in String("0123456789abcdef".randomElement()!) }.joined() }
        let key = consumerKey ?? "ck_" + random40()
        let secret = consumerSecret ?? "cs_" + random40()
        let store = SandboxStore(consumerKey: key, consumerSecret: secret, assumeHTTPS: assumeHTTPS)
        store.faults = faults
        if let seed { try store.seed(seed) }
        let connections = Connections()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SandboxHTTPHandler(store: store))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        guard let bound = channel.localAddress?.port else { throw SandboxError("could not read the bound port") }
        let url = "http://127.0.0.1:\(bound)"
        store.lock.withLock { store.homeURL = url }
        return SandboxServer(store: store, channel: channel, connections: connections, url: url, consumerKey: key, consumerSecret: secret)
    }

    /// Stops the store as a stopped web server would: no new connections, and the open ones
    /// (a client's kept-alive pool) closed, so the next request meets a refused connection.
    public func shutdown() async throws {
        try await channel.close().get()
        for connection in connections.all() { try? await connection.close().get() }
    }

    /// The open connections, each forgotten when it closes.
    final class Connections: @unchecked Sendable {
        private let lock = NSLock()
        private var open: [ObjectIdentifier: any Channel] = [:]

        func add(_ channel: any Channel) {
            let id = ObjectIdentifier(channel)
            lock.withLock { open[id] = channel }
            channel.closeFuture.whenComplete { [weak self] _ in self?.remove(id) }
        }

        private func remove(_ id: ObjectIdentifier) { lock.withLock { _ = open.removeValue(forKey: id) } }

        func all() -> [any Channel] { lock.withLock { Array(open.values) } }
    }

    /// Waits until the listening channel closes.
    public func wait() async throws {
        try await channel.closeFuture.get()
    }

    // MARK: Inspection and control for tests

    public func setFaults(_ plan: FaultPlan) {
        store.lock.lock(); defer { store.lock.unlock() }
        store.faults = plan
    }

    /// The requests answered, oldest first: the latest 100,000 (or `keepRequests(latest:)`).
    public func requests() -> [SeenRequest] {
        store.lock.lock(); defer { store.lock.unlock() }
        return store.seen.entries
    }

    /// Empties the request log and keeps the latest `count` requests from now on.
    public func keepRequests(latest count: Int) {
        store.lock.lock(); defer { store.lock.unlock() }
        store.seen.reset(capacity: count)
    }

    public func clearRequests() {
        store.lock.lock(); defer { store.lock.unlock() }
        store.seen.removeAll()
    }

    /// Every product and variation, by id.
    public func products() -> [Int64: WooProductRecord] {
        store.lock.lock(); defer { store.lock.unlock() }
        return store.products
    }

    /// Changes a product directly (as a merchant editing in wp-admin would).
    public func edit(_ id: Int64, _ change: (inout WooProductRecord) -> Void) {
        store.lock.lock(); defer { store.lock.unlock() }
        if var p = store.products[id] { change(&p); store.products[id] = p }
    }

    /// Deletes a product for good, its variations with it (as `DELETE …?force=true` does), at
    /// a moment a test chooses: from inside a client's run, where a request would not do.
    public func delete(_ id: Int64) {
        store.lock.lock(); defer { store.lock.unlock() }
        let parent = store.products[id].flatMap { $0.parentID == 0 ? nil : $0.parentID }
        _ = store.delete(id, parent: parent)
    }
}

/// Collects one HTTP/1 request and answers it from the store (or drops the connection).
final class SandboxHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let store: SandboxStore
    var head: HTTPRequestHead?
    var body: [UInt8] = []

    init(store: SandboxStore) { self.store = store }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.removeAll(keepingCapacity: true)
        case .body(var buffer):
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            guard let head else { return }
            let response = store.handle(method: head.method.rawValue, target: head.uri,
                                        headers: head.headers.map { ($0.name, $0.value) }, body: body)
            if response.drop {
                context.close(promise: nil)
                return
            }
            let keepAlive = head.isKeepAlive
            let version = head.version
            if response.delayMilliseconds > 0 {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: .milliseconds(Int64(response.delayMilliseconds))) {
                    let (handler, context) = bound.value
                    handler.write(response, version: version, keepAlive: keepAlive, context: context)
                }
            } else {
                write(response, version: version, keepAlive: keepAlive, context: context)
            }
        }
    }

    func write(_ response: SandboxResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        let bytes = Array(response.body.utf8)
        headers.add(name: "Content-Length", value: String(bytes.count))
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
