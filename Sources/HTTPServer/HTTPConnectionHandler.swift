import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection's glue between NIO and an `HTTPResponder`: accumulates a request body
/// up to the limit, runs the responder in a task (an `HTTPImmediateResponder` on the event loop), and
/// writes its response on the event loop.
///
/// Sits after `configureHTTPServerPipeline`, whose pipelining handler delivers one request at a
/// time (keep-alive and pipelined requests are answered in order). `Expect: 100-continue` is
/// answered with 100 when the declared length is within the limit, with 413 otherwise.
final class HTTPConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Reading a request body.
        case receiving(HTTPRequestHead, ByteBuffer)
        /// The request is with the responder; the response is not written yet.
        case responding
        /// Refused with 413: the rest of the body is dropped unread, then the connection closes.
        case discarding
    }

    /// How long a refused upload may keep the half-closed connection open before it is closed outright.
    static let lingerTime = TimeAmount.seconds(2)

    private let responder: any HTTPResponder
    private let maxBodyBytes: Int
    private let activity: HTTPConnectionActivity
    private var state = State.idle
    private var active = true

    init(responder: any HTTPResponder, maxBodyBytes: Int, activity: HTTPConnectionActivity) {
        self.responder = responder
        self.maxBodyBytes = maxBodyBytes
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            if declared > maxBodyBytes || (maxBodyBytes == 0 && head.headers.contains(name: "transfer-encoding")) {
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
            guard body.readableBytes + chunk.readableBytes <= maxBodyBytes else {
                refuseOversized(head: head, context: context)
                return
            }
            state = .idle // drops the enum's reference so the append does not copy
            body.writeBuffer(&chunk)
            state = .receiving(head, body)
        case .end:
            guard case .receiving(let head, let body) = state else { return }
            state = .responding
            activity.requestRead()
            respond(to: head, body: body, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // A slow or silent client; a request waiting for the responder is left alone.
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
        let request = Self.request(head, body: Array(buffer: body), context: context)
        if let immediate = responder as? any HTTPImmediateResponder {
            state = .idle
            write(immediate.immediateResponse(to: request), for: head, keepAlive: head.isKeepAlive, context: context)
            return
        }
        let responder = self.responder
        let channel = context.channel
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        Task {
            let response = await responder.respond(to: request)
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
        activity.requestRead()
        let response = responder.payloadTooLarge(Self.request(head, body: [], context: context))
        write(response, for: head, keepAlive: false, context: context)
    }

    private static func request(_ head: HTTPRequestHead, body: [UInt8], context: ChannelHandlerContext) -> HTTPRequest {
        HTTPRequest(method: head.method.rawValue, uri: head.uri, headers: head.headers.map { (name: $0.name, value: $0.value) },
                    body: body, remoteAddress: context.channel.remoteAddress?.ipAddress)
    }

    private func write(_ response: HTTPResponse, for head: HTTPRequestHead, keepAlive: Bool,
                       context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
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
        guard !keepAlive else {
            activity.responseWritten()
            return
        }
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
