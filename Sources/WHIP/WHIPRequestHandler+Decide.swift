/// Routing and validation: everything that needs no backend.
extension WHIPRequestHandler {
    static let sdpType = "application/sdp"
    static let fragmentType = "application/trickle-ice-sdpfrag"

    /// Routes and validates `request` without side effects: an immediate response (health,
    /// preflight, refusals) or the backend call to make. CORS headers are not added here.
    public func decide(_ request: WHIPRequest) -> WHIPAction {
        switch WHIPRoute(path: request.path, prefix: options.normalizedPrefix) {
        case .notFound:
            return .respond(.plain(404, "not found"))
        case .invalidRoom:
            return .respond(.plain(400, "a room name is 1 to 64 characters from A-Z a-z 0-9 . _ -"))
        case .health:
            guard request.method == "GET" else { return .respond(Self.methodNotAllowed(allow: "GET")) }
            return .respond(.plain(200, "ok"))
        case .room(let room):
            let allow = "POST, OPTIONS"
            switch request.method {
            case "OPTIONS": return .respond(preflight(allow: allow, patch: false))
            case "POST": break
            default: return .respond(Self.methodNotAllowed(allow: allow))
            }
            if let refusal = refusal(authorizing: request, contentType: Self.sdpType) { return .respond(refusal) }
            guard let offer = Self.utf8(request.body), offer.hasPrefix("v=") else {
                return .respond(.plain(400, "the body is not an SDP offer"))
            }
            return .createSession(room: room, offer: offer)
        case .session(let room, let session):
            let allow = "PATCH, DELETE, OPTIONS"
            switch request.method {
            case "OPTIONS":
                return .respond(preflight(allow: allow, patch: true))
            case "DELETE":
                if let refusal = refusal(authorizing: request, contentType: nil) { return .respond(refusal) }
                return .deleteSession(room: room, session: session)
            case "PATCH":
                if let refusal = refusal(authorizing: request, contentType: Self.fragmentType) {
                    return .respond(refusal)
                }
                guard let text = Self.utf8(request.body) else { return .respond(.plain(400, "the body is not UTF-8")) }
                do {
                    let fragment = try WHIPFragment(parsing: text)
                    return .updateSession(room: room, session: session, fragment: fragment,
                                          ifMatch: request.headers["If-Match"])
                } catch {
                    return .respond(.plain(400, "bad SDP fragment: \(error)"))
                }
            default:
                return .respond(Self.methodNotAllowed(allow: allow))
            }
        }
    }

    /// 401, 413 or 415 for a WHIP request, or nil when it may go on. `contentType` nil: no body expected.
    private func refusal(authorizing request: WHIPRequest, contentType: String?) -> WHIPResponse? {
        if let token = options.bearerToken {
            let authorization = request.headers["Authorization"]
            guard BearerAuth.accepts(authorization, token: token) else {
                let challenge = authorization == nil ? "Bearer" : "Bearer error=\"invalid_token\""
                return .plain(401, "missing or wrong bearer token", headers: ["WWW-Authenticate": challenge])
            }
        }
        if request.body.count > options.maxSDPBytes {
            return .plain(413, "the body is larger than \(options.maxSDPBytes) bytes")
        }
        if let contentType, Self.mediaType(request.headers["Content-Type"]) != contentType {
            let accept = contentType == Self.sdpType ? "Accept-Post" : "Accept-Patch"
            return .plain(415, "Content-Type must be \(contentType)", headers: [accept: contentType])
        }
        return nil
    }

    static func methodNotAllowed(allow: String) -> WHIPResponse {
        .plain(405, "method not allowed", headers: ["Allow": allow])
    }

    /// `application/SDP; charset=utf-8` → `application/sdp`.
    static func mediaType(_ header: String?) -> String? {
        guard let header else { return nil }
        return header.prefix { $0 != ";" }.trimmingSpaces().lowercased()
    }

    /// The bytes as a String if they are valid UTF-8.
    static func utf8(_ bytes: [UInt8]) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.utf8.elementsEqual(bytes) ? text : nil
    }
}
