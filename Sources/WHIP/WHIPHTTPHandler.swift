import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection's glue between NIO and `WHIPRequestHandler`: accumulates a request body
/// up to the limit, runs the sans-IO handler in a task, and writes its response on the event loop.
///
/// Sits after `configureHTTPServerPipeline`, whose pipelining handler delivers one request at a
/// time (keep-alive and pipelined requests are answered in order). `Expect: 100-continue` is
/// answered with 100 when the declared length is within the limit, with 413 otherwise.
final class WHIPHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading a request body.
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The request is with the handler; the response is not written yet.
        case responding
        /// Refused with 413: the rest of the body is dropped unread, then the connection closes.
        case discarding
    }

    /// How long a refused upload may keep the half-closed connection open before it is closed outright.
    static let lingerTime = TimeAmount.seconds(2)

    private let handler: WHIPRequestHandler
    private var state = State.idle
    private var active = true

    init(handler: WHIPRequestHandler) {
        self.handler = handler
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > handler.options.maxSDPBytes {
                refuseOversized(head: head, context: context)
            } else {
                if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                    let interim = HTTPResponseHead(version: head.version, status: .continue)
                    context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                }
                state = .receiving(head, context.channel.allocator.buffer(capacity: declared))
            }
        case .body(var chunk):
            guard case .receiving(let head, var body) = state else { return }
            guard body.readableBytes + chunk.readableBytes <= handler.options.maxSDPBytes else {
                refuseOversized(head: head, context: context)
                return
            }
            state = .idle // drops the enum's reference so the append does not copy
            body.writeBuffer(&chunk)
            state = .receiving(head, body)
        case .end:
            guard case .receiving(let head, let body) = state else { return }
            state = .responding
            respond(to: head, body: body, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // A slow or silent client; a request waiting for the backend is left alone.
            if case .responding = state { return }
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        active = false
        context.fireChannelInactive()
    }

    private func respond(to head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let request = WHIPRequest(method: head.method.rawValue, path: head.uri,
                                  headers: WHIPHeaders(head.headers.map { (name: $0.name, value: $0.value) }),
                                  body: Array(buffer: body))
        let remoteAddress = context.channel.remoteAddress?.ipAddress
        let handler = self.handler
        let channel = context.channel
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        Task {
            let response = await handler.handle(request, remoteAddress: remoteAddress)
            // A closed connection gets nothing (and its event loop may be gone with it).
            guard channel.isActive else { return }
            channel.eventLoop.execute {
                let (this, context) = bound.value
                guard this.active else { return }
                this.state = .idle
                this.write(response, for: head, keepAlive: head.isKeepAlive, context: context)
            }
        }
    }

    /// 413 before the body is read: answered at once, output closed, the remaining upload dropped.
    private func refuseOversized(head: HTTPRequestHead, context: ChannelHandlerContext) {
        state = .discarding
        let response = handler.withCORS(.plain(413, "the body is larger than \(handler.options.maxSDPBytes) bytes"))
        write(response, for: head, keepAlive: false, context: context)
    }

    private func write(_ response: WHIPResponse, for head: HTTPRequestHead, keepAlive: Bool,
                       context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers.fields.map { ($0.name, $0.value) })
        if response.status != 204 && response.status != 304 && response.status >= 200 {
            headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        }
        if !keepAlive {
            headers.replaceOrAdd(name: "Connection", value: "close")
        } else if head.version.minor == 0 {
            headers.replaceOrAdd(name: "Connection", value: "keep-alive")
        }
        let responseHead = HTTPResponseHead(version: head.version, status: .init(statusCode: response.status),
                                            headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if !response.body.isEmpty && head.method != .HEAD {
            let buffer = context.channel.allocator.buffer(bytes: response.body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        guard !keepAlive else { return }
        written.assumeIsolated().whenComplete { _ in
            // Half-close so the client reads the whole response before any reset; whatever it still
            // sends is dropped, and the connection closes on its EOF or after the linger time.
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) {
                context.close(promise: nil)
            }
        }
    }
}
