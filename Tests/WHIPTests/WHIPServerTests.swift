import NIOPosix
import Testing
import WHIP

/// The NIO server over real sockets on 127.0.0.1 (ephemeral ports).
@Suite(.timeLimit(.minutes(1))) struct WHIPServerTests {
    /// Runs `body` against a fresh server, then stops it.
    func withServer(_ options: WHIPServerOptions = .init(), backend: FakeBackend = FakeBackend(),
                    _ body: (Int) async throws -> Void) async throws {
        let server = WHIPServer(options: options, backend: backend)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        #expect(port > 0)
        do {
            try await body(port)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    @Test func publishTrickleLeaveOnOneKeepAliveConnection() async throws {
        let backend = FakeBackend()
        try await withServer(backend: backend) { port in
            try await RawConnection.with(port: port) { connection in
                try await connection.request("POST", "/whip/room1", headers: ["Content-Type: application/sdp"],
                                             body: FakeBackend.offer)
                let created = try await connection.readResponse()
                #expect(created.status == 201)
                #expect(created.headers["Location"] == "/whip/room1/sess1")
                #expect(created.headers["Content-Type"] == "application/sdp")
                #expect(created.headers["ETag"] == "\"tag1\"")
                #expect(created.headers["Access-Control-Allow-Origin"] == "*")
                #expect(created.text == FakeBackend.answer)

                try await connection.request("PATCH", "/whip/room1/sess1",
                                             headers: ["Content-Type: application/trickle-ice-sdpfrag",
                                                       "If-Match: \"tag1\""],
                                             body: FakeBackend.trickle)
                let trickled = try await connection.readResponse()
                #expect(trickled.status == 204 && trickled.body.isEmpty)

                try await connection.request("DELETE", "/whip/room1/sess1")
                let deleted = try await connection.readResponse()
                #expect(deleted.status == 200 && deleted.headers["Content-Length"] == "0")
            }
        }
        #expect(await backend.log.created == [.init(room: "room1", offer: FakeBackend.offer, remoteAddress: "127.0.0.1")])
        #expect(await backend.log.updated.first?.fragment.candidates.count == 1)
        #expect(await backend.log.deleted == ["room1/sess1"])
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer { port in
            try await RawConnection.with(port: port) { connection in
                let health = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                let unknown = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                try await connection.send(health + unknown + health)
                #expect(try await connection.readResponse().status == 200)
                #expect(try await connection.readResponse().status == 404)
                let last = try await connection.readResponse()
                #expect(last.status == 200 && last.text == "ok")
            }
        }
    }

    @Test func preflight() async throws {
        try await withServer { port in
            try await RawConnection.with(port: port) { connection in
                try await connection.request("OPTIONS", "/whip/room1",
                                             headers: ["Origin: https://app.example",
                                                       "Access-Control-Request-Method: POST",
                                                       "Access-Control-Request-Headers: authorization, content-type"])
                let response = try await connection.readResponse()
                #expect(response.status == 204 && response.body.isEmpty)
                #expect(response.headers["Access-Control-Allow-Origin"] == "*")
                #expect(response.headers["Access-Control-Allow-Methods"] == "POST, PATCH, DELETE, OPTIONS")
                #expect(response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type, If-Match")
                #expect(response.headers["Accept-Post"] == "application/sdp")
                #expect(response.headers["Content-Length"] == nil)
            }
        }
    }

    @Test func declaredOversizedBodyIsRefusedBeforeItArrives() async throws {
        let backend = FakeBackend()
        try await withServer(backend: backend) { port in
            try await RawConnection.with(port: port) { connection in
                // Declares 10 MB, sends 100 KiB of it: the answer must come anyway.
                try await connection.send("POST /whip/room1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                                          + "Content-Length: 10000000\r\n\r\n")
                try await connection.send(bytes: [UInt8](repeating: UInt8(ascii: "a"), count: 100 * 1024))
                let response = try await connection.readResponse()
                #expect(response.status == 413)
                #expect(response.headers["Connection"] == "close")
                #expect(response.headers["Access-Control-Allow-Origin"] == "*")
                #expect(try await connection.readToEnd().isEmpty) // the server closes
            }
        }
        #expect(await backend.log.count == 0)
    }

    @Test func chunkedOversizedBodyIsCutOffAtTheLimit() async throws {
        let backend = FakeBackend()
        try await withServer(.init(maxSDPBytes: 1000), backend: backend) { port in
            try await RawConnection.with(port: port) { connection in
                let chunk = "258\r\n" + String(repeating: "a", count: 600) + "\r\n" // 0x258 = 600 bytes
                try await connection.send("POST /whip/room1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                                          + "Transfer-Encoding: chunked\r\n\r\n" + chunk + chunk)
                let response = try await connection.readResponse()
                #expect(response.status == 413)
                #expect(try await connection.readToEnd().isEmpty)
            }
        }
        #expect(await backend.log.count == 0)
    }

    @Test func expectContinue() async throws {
        try await withServer { port in
            try await RawConnection.with(port: port) { connection in
                let offer = FakeBackend.offer
                try await connection.send("POST /whip/room1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                                          + "Expect: 100-continue\r\nContent-Length: \(offer.utf8.count)\r\n\r\n")
                #expect(try await connection.readResponse().status == 100)
                try await connection.send(offer)
                #expect(try await connection.readResponse().status == 201)
                try await connection.send("POST /whip/room1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                                          + "Expect: 100-continue\r\nContent-Length: 70000\r\n\r\n")
                #expect(try await connection.readResponse().status == 413)
            }
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withServer { port in
            try await RawConnection.with(port: port) { connection in
                try await connection.request("GET", "/health", headers: ["Connection: close"])
                let response = try await connection.readResponse()
                #expect(response.status == 200 && response.headers["Connection"] == "close")
                #expect(try await connection.readToEnd().isEmpty)
            }
        }
    }

    @Test func unauthorizedOverTheWire() async throws {
        try await withServer(.init(bearerToken: "t0ken")) { port in
            try await RawConnection.with(port: port) { connection in
                try await connection.request("POST", "/whip/room1", headers: ["Content-Type: application/sdp"],
                                             body: FakeBackend.offer)
                let refused = try await connection.readResponse()
                #expect(refused.status == 401 && refused.headers["WWW-Authenticate"] == "Bearer")
                try await connection.request("POST", "/whip/room1",
                                             headers: ["Content-Type: application/sdp", "Authorization: Bearer t0ken"],
                                             body: FakeBackend.offer)
                #expect(try await connection.readResponse().status == 201)
            }
        }
    }

    @Test func stopsAndStartsAgain() async throws {
        let server = WHIPServer(options: .init(), backend: FakeBackend())
        let first = try await server.start(host: "127.0.0.1", port: 0)
        await #expect(throws: WHIPServerError.self) { _ = try await server.start(host: "127.0.0.1", port: 0) }
        await server.stop()
        await #expect(throws: (any Error).self) {
            try await RawConnection.with(port: first) { _ in }
        }
        let second = try await server.start(host: "127.0.0.1", port: 0)
        try await RawConnection.with(port: second) { connection in
            try await connection.request("GET", "/health")
            #expect(try await connection.readResponse().status == 200)
        }
        await server.stop()
    }

    @Test func stopClosesIdleConnectionsAndLeavesAGivenGroupRunning() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = WHIPServer(options: .init(), backend: FakeBackend(), group: group)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        try await RawConnection.with(port: port) { connection in
            try await connection.request("GET", "/health")
            #expect(try await connection.readResponse().status == 200)
            await server.stop()
            #expect(try await connection.readToEnd().isEmpty)
        }
        #expect(try await group.next().submit { 42 }.get() == 42)
        try await group.shutdownGracefully()
    }

    @Test func stopLetsARequestInProgressFinish() async throws {
        let backend = FakeBackend(createDelay: .milliseconds(200))
        let server = WHIPServer(options: .init(), backend: backend)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        try await RawConnection.with(port: port) { connection in
            try await connection.request("POST", "/whip/room1", headers: ["Content-Type: application/sdp"],
                                         body: FakeBackend.offer)
            while await backend.log.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
            async let stopped: Void = server.stop()
            let response = try await connection.readResponse()
            #expect(response.status == 201 && response.headers["Connection"] == "close")
            #expect(try await connection.readToEnd().isEmpty)
            await stopped
        }
    }

    @Test func stopClosesWhatOutlastsTheGracePeriod() async throws {
        let backend = FakeBackend(createDelay: .seconds(10))
        let server = WHIPServer(options: .init(), backend: backend)
        let port = try await server.start(host: "127.0.0.1", port: 0)
        let clock = ContinuousClock()
        let start = clock.now
        try await RawConnection.with(port: port) { connection in
            try await connection.request("POST", "/whip/room1", headers: ["Content-Type: application/sdp"],
                                         body: FakeBackend.offer)
            while await backend.log.count == 0 { try await Task.sleep(for: .milliseconds(5)) }
            await server.stop(gracePeriod: .milliseconds(50))
            await #expect(throws: RawHTTPError.self) { _ = try await connection.readResponse() }
        }
        #expect(clock.now - start < .seconds(5))
    }
}
