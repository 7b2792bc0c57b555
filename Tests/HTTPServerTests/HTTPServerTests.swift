import NIOCore
import NIOEmbedded
import Testing
@testable import HTTPServer

/// A connection's pipeline (codec, body limit, keep-alive) on an in-memory channel, and the
/// listener's connection limit.
@Suite(.timeLimit(.minutes(1))) struct HTTPServerTests {
    @Test func requestsOnOneKeepAliveConnection() async throws {
        let connection = try await TestConnection()
        try await connection.send("POST /echo?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello")
        let first = try await connection.output()
        #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
        for header in ["X-Method: POST", "X-URI: /echo?x=1", "X-Remote: 192.0.2.7", "Content-Length: 5"] {
            #expect(first.contains("\r\n\(header)\r\n"), "\(header)")
        }
        #expect(first.hasSuffix("\r\n\r\nhello") && !first.contains("Connection:"))

        try await connection.send("HEAD /echo HTTP/1.1\r\nHost: h\r\n\r\n")
        let head = try await connection.output()
        #expect(head.contains("X-Method: HEAD") && head.hasSuffix("Content-Length: 0\r\n\r\n"))
        try await connection.send("DELETE /empty HTTP/1.1\r\nHost: h\r\n\r\n")
        let empty = try await connection.output()
        #expect(empty.hasPrefix("HTTP/1.1 204 No Content\r\n") && !empty.contains("Content-Length"))
        #expect(connection.channel.isActive)
    }

    @Test func immediateResponderAnswersWithinTheRead() async throws {
        let connection = try await TestConnection(responder: ImmediateResponder())
        try await connection.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        // Already written when the read returns: no task to wait for.
        let written = try await connection.channel.readOutbound(as: IOData.self)
        guard case .byteBuffer(let head) = written else { Issue.record("nothing written"); return }
        #expect(String(buffer: head).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test func declaredOversizedBodyIsRefusedBeforeItArrives() async throws {
        let connection = try await TestConnection()
        try await connection.send("POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 17\r\n\r\n")
        let refused = try await connection.output()
        #expect(refused.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
        #expect(refused.contains("\r\nX-URI: /up\r\n") && refused.contains("\r\nConnection: close\r\n"))
        // (An in-memory channel closes entirely where a socket closes its output, hence "contains".)
        #expect(refused.contains("\r\n\r\ntoo large"))
        #expect(await !connection.isOpen(after: HTTPConnectionHandler.lingerTime))
    }

    @Test func chunkedBodyIsCutOffAtTheLimit() async throws {
        let connection = try await TestConnection()
        try await connection.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        try await connection.send("a\r\n0123456789\r\n")
        try await connection.send("a\r\n0123456789\r\n")
        #expect(try await connection.output().hasPrefix("HTTP/1.1 413 "))

        let noBodies = try await TestConnection(.init(maxBodyBytes: 0))
        try await noBodies.send("POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(try await noBodies.output().hasPrefix("HTTP/1.1 413 ")) // at the head
    }

    @Test func expectContinue() async throws {
        let connection = try await TestConnection()
        try await connection.send("PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(try await connection.output() == "HTTP/1.1 100 Continue\r\n\r\n")
        try await connection.send("ok")
        #expect(try await connection.output().hasSuffix("\r\n\r\nok"))
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        let keepAlive = try await TestConnection()
        try await keepAlive.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try await keepAlive.output().contains("\r\nConnection: keep-alive\r\n"))

        let once = try await TestConnection()
        try await once.send("GET / HTTP/1.0\r\n\r\n")
        #expect(try await once.output().contains("\r\nConnection: close\r\n"))
        #expect(await !once.isOpen(after: HTTPConnectionHandler.lingerTime))
    }

    @Test func malformedAndOversizedHeadsGet400() async throws {
        let malformed = try await TestConnection()
        try await malformed.send("NOT HTTP\r\n\r\n")
        #expect(try await malformed.output().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))

        let limited = try await TestConnection(.init(maxBodyBytes: 0, maxHeadBytes: 64))
        try await limited.send("GET / HTTP/1.1\r\nX-Padding: \(String(repeating: "p", count: 100))\r\n\r\n")
        #expect(try await limited.output().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test func connectionsBeyondTheLimitAreClosed() async throws {
        let listener = NIOAsyncTestingChannel()
        try await listener.testingEventLoop.executeInContext {
            try listener.pipeline.syncOperations.addHandler(HTTPConnectionTracker(limit: 1))
        }
        let first = NIOAsyncTestingChannel(), second = NIOAsyncTestingChannel()
        for connection in [first, second] {
            try await connection.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 4000)).get()
            try await listener.writeInbound(connection as any Channel)
        }
        try await second.closeFuture.get()
        #expect(first.isActive)
        #expect(try await listener.readInbound(as: (any Channel).self) === first)
        #expect(try await listener.readInbound(as: (any Channel).self) == nil)
    }

    @Test func aFullServerClosesTheOldestIdleConnectionForANewOne() async throws {
        let registry = HTTPConnectionRegistry()
        let listener = NIOAsyncTestingChannel()
        try await listener.testingEventLoop.executeInContext {
            try listener.pipeline.syncOperations.addHandler(HTTPConnectionTracker(limit: 3, registry: registry))
        }
        let start = NIODeadline.now()
        // busy: its request is being answered; idleOld and idleNew: between requests; slow: mid-head.
        let busy = NIOAsyncTestingChannel(), idleOld = NIOAsyncTestingChannel(), slow = NIOAsyncTestingChannel()
        let activities = [HTTPConnectionActivity(now: start), HTTPConnectionActivity(now: start + .seconds(1)),
                          HTTPConnectionActivity(now: start + .seconds(2))]
        activities[0].requestRead()
        _ = activities[2].bytesArrived(now: start + .seconds(3))
        for (connection, activity) in zip([busy, idleOld, slow], activities) {
            try await connection.connect(to: SocketAddress(ipAddress: "192.0.2.7", port: 4000)).get()
            registry.track(connection, activity)
            try await listener.writeInbound(connection as any Channel)
        }
        let newcomer = NIOAsyncTestingChannel()
        try await newcomer.connect(to: SocketAddress(ipAddress: "192.0.2.8", port: 4000)).get()
        registry.track(newcomer, HTTPConnectionActivity())
        try await listener.writeInbound(newcomer as any Channel)
        try await idleOld.closeFuture.get()                      // the idle one goes first
        #expect(busy.isActive && slow.isActive && newcomer.isActive)

        let second = NIOAsyncTestingChannel()
        try await second.connect(to: SocketAddress(ipAddress: "192.0.2.9", port: 4000)).get()
        try await listener.writeInbound(second as any Channel)  // not registered yet: just accepted
        // The newcomer (idle, registered) goes; the slow one would go only after it.
        try await newcomer.closeFuture.get()
        #expect(busy.isActive && slow.isActive && second.isActive)

        // All that remain are busy or just accepted, except the slow one: it goes now.
        let third = NIOAsyncTestingChannel()
        try await third.connect(to: SocketAddress(ipAddress: "192.0.2.10", port: 4000)).get()
        try await listener.writeInbound(third as any Channel)
        try await slow.closeFuture.get()
        // Nothing left to evict (busy, and two not yet registered): a fourth is refused.
        let fourth = NIOAsyncTestingChannel()
        try await fourth.connect(to: SocketAddress(ipAddress: "192.0.2.11", port: 4000)).get()
        try await listener.writeInbound(fourth as any Channel)
        try await fourth.closeFuture.get()
        #expect(busy.isActive && second.isActive && third.isActive)
    }

    @Test func aRequestDribbledByteByByteIsCutOffAtTheRequestTimeout() async throws {
        let connection = try await TestConnection(.init(maxBodyBytes: 16, idleTimeout: .seconds(60), requestTimeout: .seconds(10)))
        let head = Array("GET /slow HTTP/1.1\r\nHost: h\r\n".utf8)
        // One byte every 2 s keeps the idle timeout (60 s) from ever firing; the request timeout does.
        for (i, byte) in head.prefix(4).enumerated() {
            try await connection.channel.writeInbound(ByteBuffer(bytes: [byte]))
            #expect(await connection.isOpen(after: .seconds(2)), "closed after \(2 * (i + 1)) s")
        }
        #expect(await !connection.isOpen(after: .seconds(2)))  // 10 s after the first byte

        // A request that arrives whole in time is answered, and the next one gets its own 10 s.
        let quick = try await TestConnection(.init(maxBodyBytes: 16, requestTimeout: .seconds(10)))
        for _ in 0..<3 {
            try await quick.send("GET /a HTTP/1.1\r\nHost: h\r\n")
            #expect(await quick.isOpen(after: .seconds(6)))
            try await quick.send("\r\n")
            #expect(try await quick.output().hasPrefix("HTTP/1.1 200 OK"))
            #expect(await quick.isOpen(after: .seconds(6)))
        }
    }
}
