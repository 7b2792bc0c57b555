import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Sends the upgrade request (the client upgrade handler adds the WebSocket headers) and fails the
/// upgrade when the server answers anything but 101 or closes first.
final class JanusWebSocketUpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let endpoint: JanusEndpoint
    private let upgraded: EventLoopPromise<Void>

    init(endpoint: JanusEndpoint, upgraded: EventLoopPromise<Void>) {
        self.endpoint = endpoint
        self.upgraded = upgraded
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: "Sec-WebSocket-Protocol", value: JanusWebSocketTransport.subprotocol)
        headers.add(name: "Content-Length", value: "0")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: endpoint.path, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let response) = unwrapInboundIn(data) {
            upgraded.fail(JanusTransportFailure("HTTP \(response.status.code) instead of a WebSocket upgrade"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upgraded.fail(JanusTransportFailure("the connection closed before the WebSocket upgrade"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        upgraded.fail(error)
        context.close(promise: nil)
    }
}

/// After the upgrade: text messages (reassembled from fragments) go to the sink, pings get pongs,
/// a close from Janus is answered, and the end is reported once as `.closed(reason:)`.
final class JanusWebSocketFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    /// Asks the handler to start the close handshake; `done` completes when the channel is closed.
    struct CloseRequest {
        var done: EventLoopPromise<Void>
    }

    private let sink: AsyncStream<JanusTransportInput>.Continuation
    /// The message being reassembled (opcode of its first frame, bytes so far).
    private var partial: (opcode: WebSocketOpcode, bytes: ByteBuffer)?
    private var closeReason: String?
    private var sentClose = false
    private var closeWaiters: [EventLoopPromise<Void>] = []

    init(sink: AsyncStream<JanusTransportInput>.Continuation) {
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            guard partial == nil else { return protocolError(context, "a new message inside a fragmented one") }
            collect(opcode: frame.opcode, frame: frame, context: context)
        case .continuation:
            guard let opcode = partial?.opcode else { return protocolError(context, "a continuation without a message") }
            collect(opcode: opcode, frame: frame, context: context)
        case .ping:
            guard frame.fin else { return protocolError(context, "a fragmented ping") }
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .pong:
            break
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self)
            let text = data.readString(length: data.readableBytes) ?? ""
            if closeReason == nil {
                closeReason = "closed by Janus" + (code.map { " (\($0)\(text.isEmpty ? "" : ": \(text)"))" } ?? "")
            }
            sendClose(context, code: code.flatMap { $0 == 1005 ? nil : $0 } ?? 1000)
            context.close(promise: nil)
        default:
            protocolError(context, "unknown opcode \(frame.opcode)")
        }
    }

    private func collect(opcode: WebSocketOpcode, frame: WebSocketFrame, context: ChannelHandlerContext) {
        var bytes = partial?.bytes ?? context.channel.allocator.buffer(capacity: frame.length)
        var data = frame.unmaskedData
        guard bytes.readableBytes + data.readableBytes <= JanusWebSocketTransport.maxMessageBytes else {
            closeReason = "a message larger than \(JanusWebSocketTransport.maxMessageBytes) bytes"
            sendClose(context, code: 1009)
            context.close(promise: nil)
            return
        }
        bytes.writeBuffer(&data)
        guard frame.fin else {
            partial = (opcode, bytes)
            return
        }
        partial = nil
        guard opcode == .text else { return } // Janus sends text; binary messages are not JSON
        sink.yield(.text(String(decoding: bytes.readableBytesView, as: UTF8.self)))
    }

    private func protocolError(_ context: ChannelHandlerContext, _ what: String) {
        closeReason = "WebSocket protocol error: \(what)"
        sendClose(context, code: 1002)
        context.close(promise: nil)
    }

    private func sendClose(_ context: ChannelHandlerContext, code: UInt16) {
        guard !sentClose else { return }
        sentClose = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.writeInteger(code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let request = event as? CloseRequest else { return context.fireUserInboundEventTriggered(event) }
        closeWaiters.append(request.done)
        if closeReason == nil { closeReason = "closed by us" }
        sendClose(context, code: 1000)
        // Wait briefly for Janus's close frame, then close regardless.
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .milliseconds(500)) { channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeReason == nil { closeReason = "\(error)" }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        sink.yield(.closed(reason: closeReason ?? "the connection closed"))
        sink.finish()
        for waiter in closeWaiters { waiter.succeed() }
        closeWaiters = []
        context.fireChannelInactive()
    }
}
