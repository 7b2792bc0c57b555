import JSONText
import NIOCore
import NIOPosix
import Testing
@testable import Janus

/// The HTTP transport against a NIO HTTP server on 127.0.0.1 that long-polls like Janus.
@Suite(.timeLimit(.minutes(1))) struct JanusHTTPTransportTests {
    @Test func postsToTheRightPathsAndLongPollsEvents() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestHTTPServer.start(brain: brain, pollSeconds: 0.3)
        defer { Task { await server.stop() } }
        let transport = try await JanusHTTPTransport.connect(
            to: JanusEndpoint(url: "http://127.0.0.1:\(server.port)/janus"), group: MultiThreadedEventLoopGroup.singleton)
        var inputs = transport.inputs.makeAsyncIterator()

        transport.send("{\"janus\":\"create\",\"transaction\":\"t1\"}")
        guard case .text(let created) = await inputs.next() else { Issue.record("no answer"); return }
        let session = try #require(try JSONValue.parse(created)["data"]?["id"]?.uint64)
        transport.send("{\"janus\":\"attach\",\"plugin\":\"janus.plugin.videoroom\",\"session_id\":\(session),\"transaction\":\"t2\"}")
        guard case .text(let attached) = await inputs.next() else { Issue.record("no answer"); return }
        let handle = try #require(try JSONValue.parse(attached)["data"]?["id"]?.uint64)
        transport.send("{\"janus\":\"message\",\"session_id\":\(session),\"handle_id\":\(handle),\"transaction\":\"t3\","
                       + "\"body\":{\"request\":\"join\",\"ptype\":\"publisher\",\"room\":1234}}")
        var texts: [String] = []
        while texts.count < 2, case .text(let text) = await inputs.next() { texts.append(text) }
        let kinds = try texts.map { try JSONValue.parse($0)["janus"]?.string }
        #expect(Set(kinds) == ["ack", "event"])
        let event = try #require(try texts.map(JSONValue.parse).first { $0["janus"]?.string == "event" })
        #expect(event["plugindata"]?["data"]?["videoroom"] == .string("joined"))
        #expect(event["transaction"] == .string("t3"))

        let lines = await server.log.lines
        #expect(lines.first == "GET /janus/info")
        #expect(lines.contains("POST /janus"))
        #expect(lines.contains("POST /janus/\(session)"))
        #expect(lines.contains("POST /janus/\(session)/\(handle)"))
        #expect(lines.contains("GET /janus/\(session)?maxev=10"))

        await transport.close()
        var last: JanusTransportInput?
        while let next = await inputs.next() { last = next }
        #expect(last == .closed(reason: "closed by us"))
    }

    @Test func aServerThatGoesAwayClosesTheTransport() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestHTTPServer.start(brain: brain, pollSeconds: 0.2)
        let transport = try await JanusHTTPTransport.connect(
            to: JanusEndpoint(url: "http://127.0.0.1:\(server.port)/janus"), group: MultiThreadedEventLoopGroup.singleton,
            timeout: 5)
        var inputs = transport.inputs.makeAsyncIterator()
        transport.send("{\"janus\":\"create\",\"transaction\":\"t1\"}")
        _ = await inputs.next()
        await server.stop()
        var last: JanusTransportInput?
        while let next = await inputs.next() { last = next }
        guard case .closed(let reason) = last else { Issue.record("not closed"); return }
        #expect(reason.contains("long poll") || reason.contains("POST"))
    }

    @Test func notJanusIsUnreachable() async throws {
        let server = try await TestWebSocketServer.start()
        defer { Task { await server.stop() } }
        do {
            _ = try await JanusHTTPTransport.connect(to: JanusEndpoint(url: "http://127.0.0.1:\(server.port)/janus"),
                                                     group: MultiThreadedEventLoopGroup.singleton, timeout: 5)
            Issue.record("connected")
        } catch {
            #expect(error.description.contains("HTTP 404"))
        }
    }

    @Test func aSessionJanusForgotIsNoLongerPolled() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestHTTPServer.start(brain: brain, pollSeconds: 0.2)
        defer { Task { await server.stop() } }
        let transport = try await JanusHTTPTransport.connect(
            to: JanusEndpoint(url: "http://127.0.0.1:\(server.port)/janus"), group: MultiThreadedEventLoopGroup.singleton)
        var inputs = transport.inputs.makeAsyncIterator()
        transport.send("{\"janus\":\"create\",\"transaction\":\"t1\"}")
        _ = await inputs.next()
        await brain.forgetSessions()
        guard case .text(let gone) = await inputs.next() else { Issue.record("no error"); return }
        #expect(try JSONValue.parse(gone)["error"]?["code"] == .int(458))
        try await Task.sleep(for: .milliseconds(300))
        let polls = await server.log.lines.filter { $0.hasPrefix("GET /janus/1001") }.count
        try await Task.sleep(for: .milliseconds(500))
        #expect(await server.log.lines.filter { $0.hasPrefix("GET /janus/1001") }.count == polls)
        // The transport stays open for the next session.
        transport.send("{\"janus\":\"create\",\"transaction\":\"t2\"}")
        guard case .text(let created) = await inputs.next() else { Issue.record("closed"); return }
        #expect(try JSONValue.parse(created)["data"]?["id"] == .int(1002))
        await transport.close()
    }
}
