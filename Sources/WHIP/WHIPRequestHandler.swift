/// The sans-IO WHIP endpoint: turns a complete HTTP request into a response, calling the backend
/// when the request asks for it. No sockets, so every rule can be tested directly.
///
/// `decide(_:)` routes and validates synchronously; `handle(_:remoteAddress:)` also runs the
/// backend call, keeps session ETags for `If-Match`, and adds CORS headers to every response.
public final class WHIPRequestHandler: Sendable {
    public let options: WHIPServerOptions
    public let backend: any WHIPBackend
    let tags = WHIPSessionTags()

    public init(options: WHIPServerOptions, backend: any WHIPBackend) {
        self.options = options
        self.backend = backend
    }

    /// The full answer to `request`, CORS headers included. Never throws: backend `WHIPError`s
    /// become their status with a plain-text message, other errors 500.
    /// - Parameter remoteAddress: the client's IP address, passed on to `createSession`.
    public func handle(_ request: WHIPRequest, remoteAddress: String? = nil) async -> WHIPResponse {
        let response: WHIPResponse
        switch decide(request) {
        case .respond(let immediate):
            response = immediate
        case .createSession(let room, let offer):
            response = await create(room: room, offer: offer, remoteAddress: remoteAddress)
        case .updateSession(let room, let session, let fragment, let ifMatch):
            response = await update(room: room, session: session, fragment: fragment, ifMatch: ifMatch)
        case .deleteSession(let room, let session):
            response = await delete(room: room, session: session)
        }
        return withCORS(response)
    }

    /// Forgets a session's ETag; for a backend that ends a session on its own (ICE failure, timeout).
    public func sessionEnded(room: String, session: String) async {
        await tags.remove(room: room, session: session)
    }

    private func create(room: String, offer: String, remoteAddress: String?) async -> WHIPResponse {
        do {
            let created = try await backend.createSession(room: room, offer: offer, remoteAddress: remoteAddress)
            guard WHIPRoute.isValidName(created.session) else {
                return .plain(500, "the backend made an unusable session id")
            }
            var headers: WHIPHeaders = [
                "Content-Type": Self.sdpType,
                "Location": "\(options.normalizedPrefix)/\(room)/\(created.session)",
            ]
            if let etag = created.etag.map(WHIPSessionTags.quoted) {
                headers.add("ETag", etag)
                await tags.set(etag, room: room, session: created.session)
            }
            for link in options.iceServerLinks { headers.add("Link", link) }
            return WHIPResponse(status: 201, headers: headers, body: Array(created.answer.utf8))
        } catch {
            return Self.response(for: error)
        }
    }

    private func update(room: String, session: String, fragment: WHIPFragment, ifMatch: String?) async -> WHIPResponse {
        let current = await tags.tag(room: room, session: session)
        if let ifMatch, let current, !WHIPSessionTags.ifMatch(ifMatch, matches: current) {
            return .plain(412, "If-Match does not match the session's ETag")
        }
        do {
            guard let answer = try await backend.updateSession(room: room, session: session, fragment: fragment) else {
                return WHIPResponse(status: 204)
            }
            var headers: WHIPHeaders = ["Content-Type": Self.fragmentType]
            if let current {
                // An ICE restart makes a new ICE session: its tag follows the answer's ufrag.
                let ufrag = (try? WHIPFragment(parsing: answer))?.ufrag
                let tag = ufrag.map { WHIPSessionTags.quoted($0) } ?? current
                await tags.set(tag, room: room, session: session)
                headers.add("ETag", tag)
            }
            return WHIPResponse(status: 200, headers: headers, body: Array(answer.utf8))
        } catch {
            if (error as? WHIPError)?.status == 404 { await tags.remove(room: room, session: session) }
            return Self.response(for: error)
        }
    }

    private func delete(room: String, session: String) async -> WHIPResponse {
        do {
            try await backend.deleteSession(room: room, session: session)
            await tags.remove(room: room, session: session)
            return WHIPResponse(status: 200)
        } catch {
            if (error as? WHIPError)?.status == 404 { await tags.remove(room: room, session: session) }
            return Self.response(for: error)
        }
    }

    /// A backend failure as a response: `WHIPError` keeps its status (clamped to 400...599) and message.
    static func response(for error: any Error) -> WHIPResponse {
        guard let error = error as? WHIPError else { return .plain(500, "internal error") }
        var headers: WHIPHeaders = [:]
        if let retryAfter = error.retryAfter { headers.add("Retry-After", String(retryAfter)) }
        return .plain((400...599).contains(error.status) ? error.status : 500, error.message, headers: headers)
    }
}
