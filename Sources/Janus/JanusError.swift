/// Why the Janus client could not do what was asked.
public enum JanusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not `ws://host[:port][/path]` or `http://host[:port][/path]`.
    case invalidURL(String, reason: String)
    /// `wss://` or `https://`.
    case unsupportedScheme(String)
    /// No connection: refused, timed out, not a Janus WebSocket (failed upgrade), HTTP failure.
    case unreachable(url: String, reason: String)
    /// Janus refused a request at start-up: a core error (e.g. 403 wrong apisecret) or a videoroom one.
    case refused(code: Int, reason: String)
    /// Videoroom 426: the room does not exist.
    case roomNotFound(room: JanusRoomID, reason: String)
    /// Videoroom 433 (wrong pin, token not allowed), 429 for a missing pin, or core 403 (wrong
    /// apisecret / token).
    case unauthorized(code: Int, reason: String)
    /// Janus did not finish start-up in time.
    case timedOut(String)
    /// The connection closed during start-up.
    case connectionClosed(reason: String)
    /// `answer` without an offer awaiting one (e.g. superseded by a session reset).
    case noOfferToAnswer
    /// The client was stopped (or never started).
    case notRunning

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid Janus URL \(url): \(reason)"
        case .unsupportedScheme(let url):
            "\(url): wss:// and https:// are not supported yet; put a TLS-terminating proxy in front and use ws:// or http://"
        case .unreachable(let url, let reason): "cannot reach Janus at \(url): \(reason)"
        case .refused(let code, let reason): "Janus error \(code): \(reason)"
        case .roomNotFound(let room, let reason): "room \(room) not found (Janus 426: \(reason))"
        case .unauthorized(let code, let reason): "not authorized (Janus \(code): \(reason)); check the pin, apisecret or token"
        case .timedOut(let what): "timed out: \(what)"
        case .connectionClosed(let reason): "the Janus connection closed during start-up: \(reason)"
        case .noOfferToAnswer: "no Janus offer awaits an answer"
        case .notRunning: "the Janus client is not running"
        }
    }

    /// The start-up error for a fatal follower error.
    static func from(code: Int, reason: String, room: JanusRoomID) -> JanusError {
        switch code {
        case JanusErrorCode.noSuchRoom: .roomNotFound(room: room, reason: reason)
        case JanusErrorCode.roomUnauthorized, JanusErrorCode.unauthorized: .unauthorized(code: code, reason: reason)
        case JanusErrorCode.missingElement where reason.contains("pin"): .unauthorized(code: code, reason: reason)
        case 0: .timedOut(reason)
        default: .refused(code: code, reason: reason)
        }
    }
}
