import WHIP

/// A `WHIPBackend` with canned answers that records every call.
final class FakeBackend: WHIPBackend {
    struct Created: Sendable, Equatable {
        var room: String
        var offer: String
        var remoteAddress: String?
    }

    struct Updated: Sendable {
        var room: String
        var session: String
        var fragment: WHIPFragment
    }

    struct Failure: Error {}

    /// The calls so far.
    actor Log {
        var created: [Created] = []
        var updated: [Updated] = []
        var deleted: [String] = []

        func add(_ call: Created) { created.append(call) }
        func add(_ call: Updated) { updated.append(call) }
        func addDeleted(_ path: String) { deleted.append(path) }
        var count: Int { created.count + updated.count + deleted.count }
    }

    let log = Log()
    let createResult: Result<WHIPSessionCreated, any Error>
    let updateResult: Result<String?, any Error>
    let deleteError: (any Error)?
    /// How long `createSession` takes.
    let createDelay: Duration?

    init(createResult: Result<WHIPSessionCreated, any Error> =
            .success(WHIPSessionCreated(session: "sess1", answer: FakeBackend.answer, etag: "\"tag1\"")),
         updateResult: Result<String?, any Error> = .success(nil),
         deleteError: (any Error)? = nil, createDelay: Duration? = nil) {
        self.createResult = createResult
        self.updateResult = updateResult
        self.deleteError = deleteError
        self.createDelay = createDelay
    }

    func createSession(room: String, offer: String, remoteAddress: String?) async throws -> WHIPSessionCreated {
        await log.add(Created(room: room, offer: offer, remoteAddress: remoteAddress))
        if let createDelay { try? await Task.sleep(for: createDelay) }
        return try createResult.get()
    }

    func updateSession(room: String, session: String, fragment: WHIPFragment) async throws -> String? {
        await log.add(Updated(room: room, session: session, fragment: fragment))
        return try updateResult.get()
    }

    func deleteSession(room: String, session: String) async throws {
        await log.addDeleted("\(room)/\(session)")
        if let deleteError { throw deleteError }
    }

    static let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    static let answer = "v=0\r\no=- 9 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    static let trickle = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        + "a=mid:0\r\na=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0\r\n"
}
