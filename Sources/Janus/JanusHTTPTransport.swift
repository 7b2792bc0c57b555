import JSONText
import NIOCore
import NIOHTTP1

/// The Janus REST API (`http://host:port/janus`): each request is a POST to the base path, the
/// session (`/janus/{session}`) or the handle (`/janus/{session}/{handle}`), answered in its
/// response; events come from a long poll, `GET /janus/{session}?maxev=10`, kept running for the
/// current session. A failed POST or poll closes the transport.
public final class JanusHTTPTransport: JanusTransport {
    /// Events fetched per long poll.
    public static let maxEvents = 10
    /// Janus answers an idle long poll after 30 s; the poll gives up a little later.
    static let pollTimeout = 45.0

    public let inputs: AsyncStream<JanusTransportInput>
    private let link: JanusHTTPLink
    private let outgoing: AsyncStream<String>.Continuation

    private init(endpoint: JanusEndpoint, group: any EventLoopGroup, timeout: Double) {
        let (inputs, sink) = AsyncStream.makeStream(of: JanusTransportInput.self)
        let (requests, outgoing) = AsyncStream.makeStream(of: String.self)
        self.inputs = inputs
        self.outgoing = outgoing
        let link = JanusHTTPLink(endpoint: endpoint, group: group, timeout: timeout, sink: sink)
        self.link = link
        Task { await link.runSender(requests) }
        Task { await link.runPoller() }
    }

    /// Checks the server answers `GET {path}/info`, then returns the transport.
    /// - Throws: ``JanusError/unreachable(url:reason:)``.
    public static func connect(to endpoint: JanusEndpoint, group: any EventLoopGroup,
                               timeout: Double = 5) async throws(JanusError) -> JanusHTTPTransport {
        do {
            let reply = try await JanusHTTPRequest.perform(.GET, endpoint.path + "/info", endpoint: endpoint, group: group,
                                                           timeout: timeout)
            let info = try? JSONValue.parse(reply.text)
            guard reply.status == 200, info?["janus"]?.string == "server_info" else {
                throw JanusTransportFailure("GET \(endpoint.path)/info gave HTTP \(reply.status), not Janus server info")
            }
        } catch {
            throw .unreachable(url: endpoint.description, reason: "\(error)")
        }
        return JanusHTTPTransport(endpoint: endpoint, group: group, timeout: timeout)
    }

    public func send(_ text: String) {
        outgoing.yield(text)
    }

    public func close() async {
        outgoing.finish()
        await link.close(reason: "closed by us")
    }
}

/// The HTTP transport's moving parts: the POST queue, the long poll, the current session.
actor JanusHTTPLink {
    let endpoint: JanusEndpoint
    let group: any EventLoopGroup
    let timeout: Double
    let sink: AsyncStream<JanusTransportInput>.Continuation
    /// The session the long poll follows.
    var session: UInt64?
    /// Sessions Janus said are gone (the poll stops on them).
    var deadSessions: Set<UInt64> = []
    var closed = false
    var pollTask: Task<JanusHTTPReply, any Error>?

    init(endpoint: JanusEndpoint, group: any EventLoopGroup, timeout: Double,
         sink: AsyncStream<JanusTransportInput>.Continuation) {
        self.endpoint = endpoint
        self.group = group
        self.timeout = timeout
        self.sink = sink
    }

    /// POSTs each request in order; the answer goes to the inputs.
    func runSender(_ requests: AsyncStream<String>) async {
        for await text in requests {
            guard !closed else { return }
            let request = try? JSONValue.parse(text)
            let sessionID = request?["session_id"]?.uint64
            let handleID = request?["handle_id"]?.uint64
            var path = endpoint.path
            if let sessionID {
                path += "/\(sessionID)"
                if let handleID { path += "/\(handleID)" }
                follow(sessionID)
            }
            do {
                let reply = try await JanusHTTPRequest.perform(.POST, path, body: text, endpoint: endpoint, group: group,
                                                               timeout: timeout)
                guard !closed else { return }
                guard let answer = try? JSONValue.parse(reply.text) else {
                    return close(reason: "POST \(path) gave HTTP \(reply.status) without JSON")
                }
                if request?["janus"]?.string == "create", let id = answer["data"]?["id"]?.uint64 { follow(id) }
                sink.yield(.text(reply.text))
            } catch {
                return close(reason: "POST \(path) failed: \(error)")
            }
        }
    }

    func follow(_ id: UInt64) {
        if !deadSessions.contains(id) { session = id }
    }

    /// Long-polls the current session while the transport is open.
    func runPoller() async {
        while !closed {
            guard let session, !deadSessions.contains(session) else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            let uri = "\(endpoint.path)/\(session)?maxev=\(JanusHTTPTransport.maxEvents)"
            let (endpoint, group) = (self.endpoint, self.group)
            let task = Task { try await JanusHTTPRequest.perform(.GET, uri, endpoint: endpoint, group: group,
                                                                  timeout: JanusHTTPTransport.pollTimeout) }
            pollTask = task
            let reply: JanusHTTPReply
            do {
                reply = try await task.value
            } catch {
                return close(reason: "long poll of session \(session) failed: \(error)")
            }
            guard !closed else { return }
            if reply.status == 404 {
                // Janus answers a poll on a session it no longer has with 404: stop polling it; the
                // follower learns it from its next request (error 458) and starts over.
                deadSessions.insert(session)
                if let answer = try? JSONValue.parse(reply.text), answer["janus"] != nil { sink.yield(.text(reply.text)) }
                continue
            }
            guard let answer = try? JSONValue.parse(reply.text) else {
                return close(reason: "long poll gave HTTP \(reply.status) without JSON")
            }
            for event in answer.array ?? [answer] {
                if event["janus"]?.string == "error", event["error"]?["code"]?.int == JanusErrorCode.noSuchSession {
                    deadSessions.insert(session)
                }
                sink.yield(.text(event.text))
            }
        }
    }

    func close(reason: String) {
        guard !closed else { return }
        closed = true
        pollTask?.cancel()
        sink.yield(.closed(reason: reason))
        sink.finish()
    }
}
