import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
@testable import Janus

/// A WebSocket server on 127.0.0.1 for the transport tests: it upgrades `/janus` (only with the
/// `janus-protocol` subprotocol), answers anything else with 404, hands each connection's frames to
/// the test, and, given a brain, answers Janus requests itself.
final class TestWebSocketServer: Sendable {
    let channel: any Channel
    let port: Int
    let connections: AsyncStream<TestWebSocketConnection>

    private init(channel: any Channel, connections: AsyncStream<TestWebSocketConnection>) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
        self.connections = connections
    }

    static func start(brain: FakeJanusBrain? = nil) async throws -> TestWebSocketServer {
        let (connections, sink) = AsyncStream.makeStream(of: TestWebSocketConnection.self)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: 1 << 20, automaticErrorHandling: true,
                        shouldUpgrade: { channel, head in
                            let protocols = head.headers[canonicalForm: "Sec-WebSocket-Protocol"]
                            guard head.uri == "/janus", protocols.contains("janus-protocol") else {
                                return channel.eventLoop.makeSucceededFuture(nil)
                            }
                            return channel.eventLoop.makeSucceededFuture(["Sec-WebSocket-Protocol": "janus-protocol"])
                        },
                        upgradePipelineHandler: { channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                let (frames, frameSink) = AsyncStream.makeStream(of: WebSocketFrame.self)
                                let connection = TestWebSocketConnection(channel: channel, frames: frames, head: head)
                                try channel.pipeline.syncOperations.addHandler(
                                    TestWebSocketServerHandler(frames: frameSink, connection: connection, brain: brain))
                                sink.yield(connection)
                            }
                        })
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: "not-found", promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(NotFoundHandler(), name: "not-found")
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestWebSocketServer(channel: channel, connections: connections)
    }

    func stop() async {
        try? await channel.close()
    }
}

/// One upgraded connection, seen from the server.
final class TestWebSocketConnection: Sendable {
    let channel: any Channel
    /// Every frame the client sent, unmasked.
    let frames: AsyncStream<WebSocketFrame>
    let head: HTTPRequestHead

    init(channel: any Channel, frames: AsyncStream<WebSocketFrame>, head: HTTPRequestHead) {
        self.channel = channel
        self.frames = frames
        self.head = head
    }

    func send(_ opcode: WebSocketOpcode, _ text: String, fin: Bool = true) {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, data: channel.allocator.buffer(string: text))
        channel.writeAndFlush(frame, promise: nil)
    }

    func sendClose(code: UInt16, reason: String) {
        var data = channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        data.writeInteger(code)
        data.writeString(reason)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: data), promise: nil)
    }

    /// Drops the TCP connection without a close handshake.
    func drop() {
        channel.close(promise: nil)
    }
}

/// Passes client frames to the test; with a brain, answers Janus requests in order.
final class TestWebSocketServerHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let frames: AsyncStream<WebSocketFrame>.Continuation
    private let requests: AsyncStream<String>.Continuation?
    private var closing = false

    init(frames: AsyncStream<WebSocketFrame>.Continuation, connection: TestWebSocketConnection, brain: FakeJanusBrain?) {
        self.frames = frames
        guard let brain else {
            requests = nil
            return
        }
        let (stream, requests) = AsyncStream.makeStream(of: String.self)
        self.requests = requests
        Task {
            for await text in stream {
                let (reply, events, _) = await brain.handle(text)
                for message in [reply] + events { connection.send(.text, message) }
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let plain = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
        frames.yield(plain)
        if frame.opcode == .text, frame.maskKey != nil {
            requests?.yield(String(buffer: frame.unmaskedData))
        }
        if frame.opcode == .connectionClose, !closing {
            closing = true
            let reply = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        frames.finish()
        requests?.finish()
        context.fireChannelInactive()
    }
}

/// 404 for whatever was not upgraded.
final class NotFoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .notFound, headers: ["Content-Length": "0", "Connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}
