/// A refusal the client should see: an HTTP status with a plain-text message.
///
/// Thrown by a `WHIPBackend`; the endpoint answers with `status` and `message` as `text/plain`.
/// Statuses outside 400...599 become 500.
public struct WHIPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP status, e.g. 400, 403, 404, 409, 422, 429, 503.
    public var status: Int
    /// Plain-text reason, sent as the response body.
    public var message: String
    /// Seconds for a `Retry-After` header (useful with 429 and 503).
    public var retryAfter: Int?

    public init(status: Int, message: String, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(message)" }

    /// 400: the offer or fragment cannot be used.
    public static func badRequest(_ message: String) -> WHIPError { WHIPError(status: 400, message: message) }
    /// 403: the publisher may not publish to this room.
    public static func forbidden(_ message: String) -> WHIPError { WHIPError(status: 403, message: message) }
    /// 404: no such room or session.
    public static func notFound(_ message: String) -> WHIPError { WHIPError(status: 404, message: message) }
    /// 409: e.g. the room already has a publisher.
    public static func conflict(_ message: String) -> WHIPError { WHIPError(status: 409, message: message) }
    /// 422: well-formed but unacceptable, e.g. no codec in common.
    public static func unprocessable(_ message: String) -> WHIPError { WHIPError(status: 422, message: message) }
    /// 429: too many requests from this publisher.
    public static func tooManyRequests(_ message: String, retryAfter: Int? = nil) -> WHIPError {
        WHIPError(status: 429, message: message, retryAfter: retryAfter)
    }
    /// 503: the recorder is full or shutting down.
    public static func unavailable(_ message: String, retryAfter: Int? = nil) -> WHIPError {
        WHIPError(status: 503, message: message, retryAfter: retryAfter)
    }
}
