import NIOPosix
import Testing
@testable import Janus

/// The client end to end against scripted Janus servers on 127.0.0.1.
@Suite(.timeLimit(.minutes(1))) struct JanusClientTests {
    /// Reads events until one matches (or the stream ends).
    func next(_ events: inout AsyncStream<JanusEvent>.AsyncIterator,
              where match: (JanusEvent) -> Bool) async -> JanusEvent? {
        while let event = await events.next() {
            if match(event) { return event }
        }
        return nil
    }

    func isOffer(_ event: JanusEvent) -> Bool {
        if case .offer = event { true } else { false }
    }

    @Test(arguments: ["ws", "http"])
    func startAnswerStop(scheme: String) async throws {
        let brain = FakeJanusBrain()
        let url: String
        let stopServer: @Sendable () async -> Void
        if scheme == "ws" {
            let server = try await TestWebSocketServer.start(brain: brain)
            url = "ws://127.0.0.1:\(server.port)/janus"
            stopServer = { await server.stop() }
        } else {
            let server = try await TestHTTPServer.start(brain: brain, pollSeconds: 0.5)
            url = "http://127.0.0.1:\(server.port)/janus"
            stopServer = { await server.stop() }
        }
        let client = JanusClient(options: JanusClientOptions(url: url, room: JanusRoomID("1234"), displayName: "rec"))
        try await client.start()
        var events = client.events.makeAsyncIterator()
        #expect(await events.next() == .joined(room: .number(1234), participantID: .number(55)))
        #expect(await events.next() == .publishers([JanusPublisher(id: .number(7), display: "alice",
                                                                   streams: [.init(type: "audio", mid: "0", mindex: 0)])]))
        guard case .offer(let sdp, let streams) = await next(&events, where: isOffer) else { Issue.record("no offer"); return }
        #expect(sdp == "v=0\r\nfake offer\r\n" && streams.first?.feedDisplay == "alice")
        try await client.answer(sdp: "v=0\r\nanswer\r\n")
        await client.trickle(candidate: nil, mid: nil)
        await #expect(throws: JanusError.noOfferToAnswer) { try await client.answer(sdp: "again") }
        await client.stop()
        let messages = await brain.received
        let bodies = messages.compactMap { $0["body"]?["request"]?.string }
        #expect(bodies == ["join", "join", "start", "leave"])
        #expect(messages.first { $0["body"]?["request"]?.string == "start" }?["jsep"]?["sdp"] == .string("v=0\r\nanswer\r\n"))
        #expect(messages.first?["janus"] == .string("create"))
        #expect(await brain.requests("destroy").count == 1)
        #expect(await brain.requests("detach").count == 2)
        #expect(await brain.requests("trickle").first?["candidate"] == .object(["completed": .bool(true)]))
        await stopServer()
    }

    @Test func startUpErrorsNameTheCause() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestWebSocketServer.start(brain: brain)
        defer { Task { await server.stop() } }
        let url = "ws://127.0.0.1:\(server.port)/janus"
        await brain.configure(roomExists: false)
        await #expect(throws: JanusError.roomNotFound(room: .number(1234), reason: "No such room (1234)")) {
            try await JanusClient(options: JanusClientOptions(url: url, room: .number(1234))).start()
        }
        await brain.configure(pin: "1111")
        await #expect(throws: JanusError.unauthorized(code: 433, reason: "Unauthorized (wrong pin)")) {
            try await JanusClient(options: JanusClientOptions(url: url, room: .number(1234), pin: "2222")).start()
        }
        await #expect(throws: JanusError.unauthorized(code: 429, reason: "Missing mandatory element (pin)")) {
            try await JanusClient(options: JanusClientOptions(url: url, room: .number(1234))).start()
        }
        let pinned = JanusClient(options: JanusClientOptions(url: url, room: .number(1234), pin: "1111"))
        try await pinned.start()
        await pinned.stop()
        await #expect(throws: JanusError.unsupportedScheme("wss://127.0.0.1/janus")) {
            try await JanusClient(options: JanusClientOptions(url: "wss://127.0.0.1/janus", room: .number(1))).start()
        }
        let port = server.port
        await server.stop()
        do {
            var options = JanusClientOptions(url: "ws://127.0.0.1:\(port)/janus", room: .number(1))
            options.connectTimeoutSeconds = 1
            try await JanusClient(options: options).start()
            Issue.record("started")
        } catch let error as JanusError {
            guard case .unreachable = error else { Issue.record("\(error)"); return }
            #expect(error.description.hasPrefix("cannot reach Janus at ws://127.0.0.1:\(port)/janus"))
        }
    }

    @Test func aDropWithoutReconnectIsFinal() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestWebSocketServer.start(brain: brain)
        defer { Task { await server.stop() } }
        let client = JanusClient(options: JanusClientOptions(url: "ws://127.0.0.1:\(server.port)/janus", room: .number(1234)))
        var connections = server.connections.makeAsyncIterator()
        try await client.start()
        let connection = try #require(await connections.next())
        connection.drop()
        var events = client.events.makeAsyncIterator()
        guard case .connectionLost = await next(&events, where: { if case .connectionLost = $0 { true } else { false } }) else {
            Issue.record("no connectionLost")
            return
        }
        #expect(await events.next() == nil)
    }

    @Test func reconnectClaimsThenStartsOverWhenTheSessionIsGone() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestWebSocketServer.start(brain: brain)
        defer { Task { await server.stop() } }
        var options = JanusClientOptions(url: "ws://127.0.0.1:\(server.port)/janus", room: .number(1234), reconnect: true)
        options.reconnectInitialDelay = 0.05
        let client = JanusClient(options: options)
        var connections = server.connections.makeAsyncIterator()
        try await client.start()
        var events = client.events.makeAsyncIterator()
        _ = await next(&events, where: isOffer)

        // A drop with the session still there: claimed.
        try #require(await connections.next()).drop()
        let second = try #require(await connections.next())
        for _ in 0..<100 where await brain.requests("claim").isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        let claims = await brain.requests("claim")
        #expect(claims.count == 1)
        #expect(claims.first?["session_id"] == .int(1001))
        for _ in 0..<100 where await brain.received.last?["body"]?["request"]?.string != "listparticipants" {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await brain.received.last?["body"]?["request"]?.string == "listparticipants")

        // Janus restarted: the claim fails, a new session follows.
        await brain.forgetSessions()
        second.drop()
        #expect(await next(&events, where: { $0 == .sessionReset }) == .sessionReset)
        #expect(await next(&events, where: { if case .joined = $0 { true } else { false } }) != nil)
        guard case .offer = await next(&events, where: isOffer) else { Issue.record("no new offer"); return }
        #expect(await brain.requests("create").count == 2)
        await client.stop()
    }

    @Test func reconnectGivesUpAfterItsBudget() async throws {
        let brain = FakeJanusBrain()
        let server = try await TestWebSocketServer.start(brain: brain)
        var options = JanusClientOptions(url: "ws://127.0.0.1:\(server.port)/janus", room: .number(1234), reconnect: true)
        options.reconnectInitialDelay = 0.05
        options.reconnectMaxDelay = 0.2
        options.reconnectBudgetSeconds = 1
        options.connectTimeoutSeconds = 0.5
        let client = JanusClient(options: options)
        try await client.start()
        await server.stop()
        var connections = server.connections.makeAsyncIterator()
        try #require(await connections.next()).drop()
        var events = client.events.makeAsyncIterator()
        guard case .connectionLost(let reason) = await next(&events, where: { if case .connectionLost = $0 { true } else { false } })
        else { Issue.record("no connectionLost"); return }
        #expect(reason.contains("no reconnection within 1.0 s"))
    }
}
