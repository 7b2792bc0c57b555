import NIOCore
import NIOHTTP1
import NIOPosix
@testable import Janus

/// A Janus REST API on 127.0.0.1 for the HTTP transport tests, backed by a ``FakeJanusBrain``:
/// `GET /janus/info`, POSTs to `/janus[/session[/handle]]`, long polls `GET /janus/{session}?maxev=N`
/// (answered with the queued events, or a keepalive after `pollSeconds`).
final class TestHTTPServer: Sendable {
    let channel: any Channel
    let port: Int
    /// `METHOD uri` of every request, in order of arrival.
    let log: RequestLog

    actor RequestLog {
        var lines: [String] = []
        func add(_ line: String) { lines.append(line) }
    }

    private init(channel: any Channel, log: RequestLog) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
        self.log = log
    }

    static func start(brain: FakeJanusBrain, pollSeconds: Double = 1) async throws -> TestHTTPServer {
        let log = RequestLog()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(
                        TestJanusHTTPHandler(brain: brain, log: log, pollSeconds: pollSeconds))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return TestHTTPServer(channel: channel, log: log)
    }

    func stop() async {
        try? await channel.close()
    }
}

final class TestJanusHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let brain: FakeJanusBrain
    private let log: TestHTTPServer.RequestLog
    private let pollSeconds: Double
    private var head: HTTPRequestHead?
    private var body = ""

    init(brain: FakeJanusBrain, log: TestHTTPServer.RequestLog, pollSeconds: Double) {
        self.brain = brain
        self.log = log
        self.pollSeconds = pollSeconds
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = ""
        case .body(let chunk):
            body += String(buffer: chunk)
        case .end:
            guard let head else { return }
            respond(head, body: body, channel: context.channel)
        }
    }

    private func respond(_ head: HTTPRequestHead, body: String, channel: any Channel) {
        let (brain, log, pollSeconds) = (self.brain, self.log, self.pollSeconds)
        Task {
            await log.add("\(head.method.rawValue) \(head.uri)")
            let parts = head.uri.split(separator: "?")[0].split(separator: "/").map(String.init)
            var status = HTTPResponseStatus.ok
            var text: String
            if head.method == .GET, parts == ["janus", "info"] {
                text = #"{"janus":"server_info","name":"Fake Janus","version":1102}"#
            } else if head.method == .POST, parts.first == "janus" {
                let (reply, events, session) = await brain.handle(body)
                if let session { await brain.enqueue(events, session: session) }
                text = reply
            } else if head.method == .GET, parts.count == 2, let session = UInt64(parts[1]) {
                let maxev = head.uri.split(separator: "=").last.flatMap { Int($0) } ?? 1
                if let events = await brain.poll(session: session, max: maxev, timeout: pollSeconds) {
                    text = events.isEmpty ? #"{"janus":"keepalive"}"# : "[" + events.joined(separator: ",") + "]"
                } else {
                    status = .notFound // as Janus 1.1.2 answers a poll on a dead session
                    text = "{\"janus\":\"error\",\"session_id\":\(session),\"error\":{\"code\":458,\"reason\":\"No such session \(session)\"}}"
                }
            } else {
                status = .notFound
                text = "not found"
            }
            let response = HTTPResponseHead(version: .http1_1, status: status,
                                            headers: ["Content-Length": String(text.utf8.count), "Connection": "close",
                                                      "Content-Type": "application/json"])
            channel.write(HTTPServerResponsePart.head(response), promise: nil)
            channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(string: text))), promise: nil)
            try? await channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            try? await channel.close()
        }
    }
}
