/// What the WHIP endpoint asks the recorder to do. Implemented by the recorder; the endpoint calls it
/// from Swift concurrency tasks (never on a NIO event loop), possibly for several requests at once.
///
/// Limits such as a maximum number of sessions are the backend's job: throw
/// `WHIPError(status: 503, ...)` (or 429) from `createSession`.
public protocol WHIPBackend: Sendable {
    /// A new publisher: returns the SDP answer and a session id (used in the Location URL), or throws `WHIPError`.
    /// - Parameters:
    ///   - room: the validated room name from the URL.
    ///   - offer: the SDP offer, as received (UTF-8, starts with `v=`).
    ///   - remoteAddress: the publisher's IP address as text, when known.
    func createSession(room: String, offer: String, remoteAddress: String?) async throws -> WHIPSessionCreated
    /// Trickle ICE / ICE restart (RFC 8840 SDP fragment). Returns nil for 204 (trickle) or an answer
    /// fragment for 200 (ICE restart).
    func updateSession(room: String, session: String, fragment: WHIPFragment) async throws -> String?
    /// DELETE: the publisher leaves.
    func deleteSession(room: String, session: String) async throws
}

/// A session the backend accepted: what goes into the `201 Created` response.
public struct WHIPSessionCreated: Sendable, Equatable {
    /// The session id, the last segment of the Location URL: `[A-Za-z0-9._-]{1,64}`.
    public var session: String
    /// The SDP answer (the response body).
    public var answer: String
    /// The ICE session's entity tag, sent as `ETag` and checked against `If-Match` on PATCH.
    /// Give it quoted, as it appears on the wire (`"abc"`); an unquoted value is quoted for you.
    public var etag: String?

    public init(session: String, answer: String, etag: String? = nil) {
        self.session = session
        self.answer = answer
        self.etag = etag
    }
}
