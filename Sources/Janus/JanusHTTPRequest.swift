import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP answer: status and body.
struct JanusHTTPReply: Sendable {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// One HTTP/1.1 request on its own connection (`Connection: close`), cancellable, with a time limit.
enum JanusHTTPRequest {
    /// The largest response body accepted.
    static let maxBodyBytes = 16 << 20

    static func perform(_ method: HTTPMethod, _ uri: String, body: String? = nil, endpoint: JanusEndpoint,
                        group: any EventLoopGroup, timeout: Double) async throws -> JanusHTTPReply {
        let eventLoop = group.next()
        let reply = eventLoop.makePromise(of: JanusHTTPReply.self)
        let limit = TimeAmount.milliseconds(Int64(max(timeout, 0.05) * 1000))
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: "Connection", value: "close")
        headers.add(name: "Accept", value: "application/json")
        let bytes = body.map { Array($0.utf8) }
        if let bytes {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(bytes.count))
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(limit)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(JanusHTTPOneShot(head: head, body: bytes, reply: reply))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            reply.fail(error)
            throw error
        }
        let timer = eventLoop.scheduleTask(in: limit) {
            reply.fail(JanusTransportFailure("no HTTP answer within \(timeout) s"))
            channel.close(promise: nil)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await withTaskCancellationHandler {
            try await reply.futureResult.get()
        } onCancel: {
            reply.fail(CancellationError())
            channel.close(promise: nil)
        }
    }
}

/// Writes one request when the connection is up and collects the response.
final class JanusHTTPOneShot: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let body: [UInt8]?
    private let reply: EventLoopPromise<JanusHTTPReply>
    private var status = 0
    private var received: [UInt8] = []

    init(head: HTTPRequestHead, body: [UInt8]?, reply: EventLoopPromise<JanusHTTPReply>) {
        self.head = head
        self.body = body
        self.reply = reply
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            status = Int(response.status.code)
        case .body(let chunk):
            guard received.count + chunk.readableBytes <= JanusHTTPRequest.maxBodyBytes else {
                reply.fail(JanusTransportFailure("an HTTP body larger than \(JanusHTTPRequest.maxBodyBytes) bytes"))
                context.close(promise: nil)
                return
            }
            received += chunk.readableBytesView
        case .end:
            reply.succeed(JanusHTTPReply(status: status, body: received))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        reply.fail(JanusTransportFailure("the connection closed before the HTTP answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply.fail(error)
        context.close(promise: nil)
    }
}
