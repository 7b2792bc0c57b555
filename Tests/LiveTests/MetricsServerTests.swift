import Foundation
import Testing
@testable import Live

/// Runs `body` against a server for `metrics` on 127.0.0.1 (an ephemeral port), stopping it afterwards.
func withMetricsServer<T>(_ metrics: RecordingMetrics, _ body: (MetricsServer, Int) async throws -> T) async throws -> T {
    let server = MetricsServer(metrics: metrics)
    let port = try await server.start(host: "127.0.0.1", port: 0)
    do {
        let result = try await body(server, port)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

@Suite struct MetricsServerTests {
    @Test func metricsAndHealthOverOneConnection() async throws {
        let metrics = RecordingMetrics(room: "main \"room\"")
        var snapshot = MetricsSnapshot()
        snapshot.participants = 2
        snapshot.rtpPackets = 1234
        metrics.update(snapshot)
        try await withMetricsServer(metrics) { _, port in
            #expect(port > 0)
            let socket = try RawSocket(port: port)
            try socket.request("GET", "/metrics")
            let reply = try socket.readReply()
            #expect(reply.status == 200)
            #expect(reply[header: "Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
            let families = try checkFamilies(reply.text, room: "main \"room\"")
            #expect(families["flowrec_participants"]?.samples.first?.value == 2)
            #expect(families["flowrec_rtp_packets_total"]?.samples.first?.value == 1234)
            #expect(families["flowrec_up"]?.samples.first?.value == 1)

            // Keep-alive: the same connection, health, then a query string.
            try socket.request("GET", "/health")
            let health = try socket.readReply()
            #expect(health.status == 200 && health.text == "ok\n")
            try socket.request("GET", "/metrics?name[]=x")
            #expect(try socket.readReply().status == 200)

            // Health flips once the recording failed; the metrics say so too.
            metrics.markFailed("capture folder\nunwritable")
            try socket.request("GET", "/health")
            let failed = try socket.readReply()
            #expect(failed.status == 503)
            #expect(failed.text == "failed: capture folder unwritable\n")
            try socket.request("GET", "/metrics")
            let after = try checkFamilies(try socket.readReply().text, room: "main \"room\"")
            #expect(after["flowrec_up"]?.samples.first?.value == 0)
        }
    }

    @Test func notFoundAndMethodNotAllowed() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            let socket = try RawSocket(port: port)
            for path in ["/", "/metrics/", "/healthz", "/metrics/../health"] {
                try socket.request("GET", path)
                #expect(try socket.readReply().status == 404, "\(path)")
            }
            for method in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
                try socket.request(method, "/metrics")
                let reply = try socket.readReply()
                #expect(reply.status == 405, "\(method)")
                #expect(reply[header: "Allow"] == "GET, HEAD")
            }
            // HEAD: the headers alone, and the connection stays usable.
            try socket.request("HEAD", "/metrics")
            let head = try socket.readReply(bodyless: true)
            #expect(head.status == 200 && Int(head[header: "Content-Length"] ?? "0")! > 100)
            try socket.request("GET", "/health")
            #expect(try socket.readReply().text == "ok\n")
        }
    }

    @Test func pipelinedRequestsAnsweredInOrder() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            let socket = try RawSocket(port: port)
            let request = { (path: String) in "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }
            try socket.sendText(request("/health") + request("/metrics") + request("/nope") + request("/health"))
            #expect(try socket.readReply().status == 200)
            #expect(try socket.readReply().text.hasPrefix("# HELP flowrec_up "))
            #expect(try socket.readReply().status == 404)
            #expect(try socket.readReply().text == "ok\n")
        }
    }

    @Test func bodiesAreRefused() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            for (method, headers, body) in [("POST", [String](), "x=1"), ("GET", [], "hello"),
                                            ("POST", ["Transfer-Encoding: chunked"], nil)] {
                let socket = try RawSocket(port: port)
                try socket.request(method, "/metrics", headers: headers, body: body)
                if headers.isEmpty == false { try socket.sendText("5\r\nhello\r\n0\r\n\r\n") }
                let reply = try socket.readReply()
                #expect(reply.status == 413, "\(method) \(headers)")
                #expect(reply[header: "Connection"] == "close")
                #expect(try socket.readToEnd().isEmpty) // then closed
            }
            // An explicit empty body is no body.
            let socket = try RawSocket(port: port)
            try socket.request("GET", "/health", headers: ["Content-Length: 0"])
            #expect(try socket.readReply().status == 200)
        }
    }

    @Test func oversizedHeadIsRefused() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            let socket = try RawSocket(port: port)
            try socket.request("GET", "/metrics", headers: ["X-Padding: " + String(repeating: "a", count: 9000)])
            // A 400 from the HTTP decoder, or (if the unread rest made the close a reset) nothing: never metrics.
            do {
                let reply = try socket.readReply()
                #expect(reply.status == 400 || reply.status == 431)
            } catch RawSocketError.closedEarly {}
            _ = try socket.readToEnd()

            let long = try RawSocket(port: port)
            try long.request("GET", "/metrics?" + String(repeating: "q", count: 10000))
            do {
                #expect(try long.readReply().status == 400)
            } catch RawSocketError.closedEarly {}
        }
    }

    @Test func http10ClosesAfterTheResponse() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            let socket = try RawSocket(port: port)
            try socket.request("GET", "/health", version: "HTTP/1.0")
            let reply = try socket.readReply()
            #expect(reply.status == 200 && reply.text == "ok\n")
            #expect(try socket.readToEnd().isEmpty)

            let keepAlive = try RawSocket(port: port)
            try keepAlive.request("GET", "/health", version: "HTTP/1.0", headers: ["Connection: keep-alive"])
            #expect(try keepAlive.readReply()[header: "Connection"] == "keep-alive")
            try keepAlive.request("GET", "/health", version: "HTTP/1.0", headers: ["Connection: keep-alive"])
            #expect(try keepAlive.readReply().status == 200)
        }
    }

    @Test func stopClosesConnectionsAndRestarts() async throws {
        let server = MetricsServer(metrics: RecordingMetrics(room: "r"))
        let port = try await server.start(host: "127.0.0.1", port: 0)
        await #expect(throws: MetricsServerError.self) { _ = try await server.start(host: "127.0.0.1", port: 0) }
        let socket = try RawSocket(port: port)
        try socket.request("GET", "/health")
        #expect(try socket.readReply().status == 200)
        await server.stop()
        #expect(try socket.readToEnd().isEmpty) // the open keep-alive connection was closed
        #expect(throws: RawSocketError.self) { _ = try RawSocket(port: port) }
        await server.stop() // twice is fine

        let again = try await server.start(host: "127.0.0.1", port: 0)
        let second = try RawSocket(port: again)
        try second.request("GET", "/health")
        #expect(try second.readReply().status == 200)
        await server.stop()
    }

    @Test func bindFailureIsThrown() async throws {
        try await withMetricsServer(RecordingMetrics(room: "r")) { _, port in
            let other = MetricsServer(metrics: RecordingMetrics(room: "r"))
            await #expect(throws: (any Error).self) { _ = try await other.start(host: "127.0.0.1", port: port) }
        }
    }

    @Test func addresses() {
        func parse(_ text: String) -> String? {
            MetricsServer.parseAddress(text).map { "\($0.host) \($0.port)" }
        }
        #expect(parse("9464") == "0.0.0.0 9464")
        #expect(parse(":9464") == "0.0.0.0 9464")
        #expect(parse("127.0.0.1:9464") == "127.0.0.1 9464")
        #expect(parse("localhost:0") == "localhost 0")
        #expect(parse("[::1]:9464") == "::1 9464")
        #expect(MetricsServer.parseAddress("9464", defaultHost: "127.0.0.1")?.host == "127.0.0.1")
        for bad in ["", ":", "host:", "65536", "-1", "::1:9464", "[::1]", "[]:80", "host:port", "1.2.3.4:+80", "٣٣"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }
}
