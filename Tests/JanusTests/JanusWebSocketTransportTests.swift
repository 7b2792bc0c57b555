import NIOCore
import NIOPosix
import NIOWebSocket
import Testing
@testable import Janus

/// The WebSocket transport against a NIOWebSocket server on 127.0.0.1.
@Suite(.timeLimit(.minutes(1))) struct JanusWebSocketTransportTests {
    func connect(_ server: TestWebSocketServer, path: String = "/janus") async throws -> JanusWebSocketTransport {
        try await JanusWebSocketTransport.connect(
            to: JanusEndpoint(url: "ws://127.0.0.1:\(server.port)\(path)"), group: MultiThreadedEventLoopGroup.singleton)
    }

    @Test func upgradesWithTheJanusSubprotocolAndExchangesText() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        let transport = try await connect(server)
        var connections = server.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        #expect(connection.head.uri == "/janus")
        #expect(connection.head.headers["Sec-WebSocket-Protocol"] == ["janus-protocol"])
        #expect(connection.head.headers["Host"] == ["127.0.0.1:\(server.port)"])

        transport.send("{\"janus\":\"create\",\"transaction\":\"a\"}")
        transport.send("{\"janus\":\"keepalive\",\"transaction\":\"é😀\"}")
        var frames = connection.frames.makeAsyncIterator()
        let first = try #require(await frames.next())
        #expect(first.opcode == .text && first.fin && String(buffer: first.data) == "{\"janus\":\"create\",\"transaction\":\"a\"}")
        let second = try #require(await frames.next())
        #expect(String(buffer: second.data) == "{\"janus\":\"keepalive\",\"transaction\":\"é😀\"}")

        connection.send(.text, "{\"janus\":\"ack\"}")
        // A fragmented message: text + two continuations, with a ping in between.
        connection.send(.text, "{\"janus\":", fin: false)
        connection.send(.continuation, "\"event\",", fin: false)
        connection.send(.ping, "are you there")
        connection.send(.continuation, "\"x\":1}")
        var inputs = transport.inputs.makeAsyncIterator()
        #expect(await inputs.next() == .text("{\"janus\":\"ack\"}"))
        #expect(await inputs.next() == .text("{\"janus\":\"event\",\"x\":1}"))
        let pong = try #require(await frames.next())
        #expect(pong.opcode == .pong && String(buffer: pong.data) == "are you there")

        await transport.close()
        let close = try #require(await frames.next())
        #expect(close.opcode == .connectionClose)
        var payload = close.data
        #expect(payload.readInteger(as: UInt16.self) == 1000)
        #expect(await inputs.next() == .closed(reason: "closed by us"))
        #expect(await inputs.next() == nil)
    }

    @Test func aCloseFromJanusIsAnsweredAndReported() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        let transport = try await connect(server)
        var connections = server.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        connection.sendClose(code: 1001, reason: "going away")
        var inputs = transport.inputs.makeAsyncIterator()
        #expect(await inputs.next() == .closed(reason: "closed by Janus (1001: going away)"))
        var frames = connection.frames.makeAsyncIterator()
        let reply = try #require(await frames.next())
        #expect(reply.opcode == .connectionClose)
        var payload = reply.data
        #expect(payload.readInteger(as: UInt16.self) == 1001)
    }

    @Test func aDroppedConnectionIsReported() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        let transport = try await connect(server)
        var connections = server.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        connection.drop()
        var inputs = transport.inputs.makeAsyncIterator()
        guard case .closed = await inputs.next() else { Issue.record("not closed"); return }
    }

    @Test func aBadFragmentSequenceIsAProtocolError() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        let transport = try await connect(server)
        var connections = server.connections.makeAsyncIterator()
        let connection = try #require(await connections.next())
        connection.send(.continuation, "orphan")
        var inputs = transport.inputs.makeAsyncIterator()
        #expect(await inputs.next() == .closed(reason: "WebSocket protocol error: a continuation without a message"))
    }

    @Test func aRefusedUpgradeOrNoServerIsUnreachable() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        do {
            _ = try await connect(server, path: "/other")
            Issue.record("connected")
        } catch {
            #expect(error as? JanusError != nil)
            #expect("\(error)".contains("HTTP 404 instead of a WebSocket upgrade"))
        }
        let port = server.port
        await server.stop()
        await #expect(throws: JanusError.self) {
            _ = try await JanusWebSocketTransport.connect(to: JanusEndpoint(url: "ws://127.0.0.1:\(port)/janus"),
                                                          group: MultiThreadedEventLoopGroup.singleton, timeout: 1)
        }
    }

    @Test func endpointsParse() throws {
        #expect(try JanusEndpoint(url: "ws://10.0.0.5") == JanusEndpoint(kind: .webSocket, host: "10.0.0.5", port: 8188, path: "/"))
        #expect(try JanusEndpoint(url: "WS://h:9000/janus-ws/") == JanusEndpoint(kind: .webSocket, host: "h", port: 9000, path: "/janus-ws"))
        #expect(try JanusEndpoint(url: "http://h") == JanusEndpoint(kind: .http, host: "h", port: 8088, path: "/janus"))
        #expect(try JanusEndpoint(url: "http://[::1]:8089/api?x=1") == JanusEndpoint(kind: .http, host: "::1", port: 8089, path: "/api"))
        #expect(throws: JanusError.unsupportedScheme("wss://h/")) { try JanusEndpoint(url: "wss://h/") }
        #expect(throws: JanusError.unsupportedScheme("https://h/janus")) { try JanusEndpoint(url: "https://h/janus") }
        for bad in ["h:8188", "ftp://h", "ws://", "ws://h:0", "ws://h:99999", "ws://u:p@h", "ws://[::1"] {
            #expect(throws: JanusError.self, "\(bad)") { try JanusEndpoint(url: bad) }
        }
        #expect(JanusError.unsupportedScheme("wss://x").description.contains("TLS-terminating proxy"))
    }
}
