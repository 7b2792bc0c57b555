/// What `WHIPRequestHandler.decide(_:)` makes of a request: an immediate answer, or a backend call.
public enum WHIPAction: Sendable {
    /// Answer right away (health, preflight, or a refusal: 400, 401, 404, 405, 413, 415).
    case respond(WHIPResponse)
    /// `POST {prefix}/{room}` with a valid offer.
    case createSession(room: String, offer: String)
    /// `PATCH {prefix}/{room}/{session}` with a parsed fragment and the request's `If-Match`, if any.
    case updateSession(room: String, session: String, fragment: WHIPFragment, ifMatch: String?)
    /// `DELETE {prefix}/{room}/{session}`.
    case deleteSession(room: String, session: String)
}
