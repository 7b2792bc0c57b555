import NIOCore
import NIOEmbedded
@testable import HTTPServer

/// Answers with what it got: method, target and client address as headers, the body as body.
struct EchoResponder: HTTPResponder {
    func respond(to request: HTTPRequest) async -> HTTPResponse {
        if request.uri == "/empty" { return HTTPResponse(status: 204) }
        return HTTPResponse(status: 200, headers: [("X-Method", request.method), ("X-URI", request.uri),
                                                   ("X-Remote", request.remoteAddress ?? "-")],
                            body: request.body)
    }

    func payloadTooLarge(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: 413, headers: [("X-URI", request.uri)], body: Array("too large".utf8))
    }
}

/// Answers on the event loop.
struct ImmediateResponder: HTTPImmediateResponder {
    func immediateResponse(to request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: 200, body: Array("now".utf8))
    }

    func payloadTooLarge(_ request: HTTPRequest) -> HTTPResponse {
        HTTPResponse(status: 413)
    }
}

/// One server connection's pipeline on an in-memory channel (no sockets): raw request text in,
/// raw response text out, time moved by hand.
struct TestConnection {
    let channel = NIOAsyncTestingChannel()

    init(_ configuration: HTTPServerConfiguration = .init(maxBodyBytes: 16),
         responder: any HTTPResponder = EchoResponder()) async throws {
        let channel = self.channel
        try await channel.testingEventLoop.executeInContext {
            try HTTPServer.configureConnection(channel.pipeline.syncOperations, configuration: configuration,
                                               responder: responder)
        }
        try await channel.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 4000)).get()
    }

    func send(_ text: String) async throws {
        try await channel.writeInbound(ByteBuffer(string: text))
    }

    /// What the server writes next: waits for a first write, then takes every write that came with it.
    func output() async throws -> String {
        var text = Self.text(try await channel.waitForOutboundWrite(as: IOData.self))
        while let more = try await channel.readOutbound(as: IOData.self) { text += Self.text(more) }
        return text
    }

    /// Whether the connection is still open after `time` passes.
    func isOpen(after time: TimeAmount) async -> Bool {
        await channel.testingEventLoop.advanceTime(by: time)
        return channel.isActive
    }

    private static func text(_ data: IOData) -> String {
        guard case .byteBuffer(let buffer) = data else { return "" }
        return String(buffer: buffer)
    }
}
