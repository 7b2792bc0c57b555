/// An HTTP request as the sans-IO core sees it: already parsed, body complete.
public struct WHIPRequest: Sendable, Equatable {
    /// `GET`, `POST`, … (compared case-sensitively, as RFC 9110 says).
    public var method: String
    /// The request target's path, possibly with a `?query` (ignored).
    public var path: String
    public var headers: WHIPHeaders
    public var body: [UInt8]

    public init(method: String, path: String, headers: WHIPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// A request with a UTF-8 text body.
    public init(method: String, path: String, headers: WHIPHeaders = [:], text: String) {
        self.init(method: method, path: path, headers: headers, body: Array(text.utf8))
    }
}

/// An HTTP response to send. The server adds framing headers (`Content-Length`, `Connection`).
public struct WHIPResponse: Sendable, Equatable {
    public var status: Int
    public var headers: WHIPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: WHIPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text (for logs and tests).
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// A response with a `text/plain` body (error messages, `/health`).
    public static func plain(_ status: Int, _ message: String, headers: WHIPHeaders = [:]) -> WHIPResponse {
        var headers = headers
        headers.replace("Content-Type", "text/plain; charset=utf-8")
        return WHIPResponse(status: status, headers: headers, body: Array(message.utf8))
    }
}
