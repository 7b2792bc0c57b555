/// A complete HTTP/1.1 request as an `HTTPResponder` sees it: head and body read in full.
public struct HTTPRequest: Sendable {
    /// `GET`, `POST`, … as sent.
    public var method: String
    /// The request target as sent: a path, possibly with a `?query`.
    public var uri: String
    /// The header fields in order, as received.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The client's IP address, when known.
    public var remoteAddress: String?

    public init(method: String, uri: String, headers: [(name: String, value: String)] = [], body: [UInt8] = [],
                remoteAddress: String? = nil) {
        self.method = method
        self.uri = uri
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }
}

/// A response to send. The server adds the framing headers (`Content-Length`, `Connection`) and
/// leaves the body out when answering `HEAD`.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Sent in this order; a name may repeat.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Answers an `HTTPServer`'s requests. A connection's requests come one at a time, in order.
public protocol HTTPResponder: Sendable {
    /// The answer to a complete request.
    func respond(to request: HTTPRequest) async -> HTTPResponse

    /// The answer to a request whose body is over `HTTPServerConfiguration.maxBodyBytes`, sent
    /// before the body is read (`request.body` is empty); the connection closes after it.
    func payloadTooLarge(_ request: HTTPRequest) -> HTTPResponse
}

/// A responder whose answers are cheap and never wait: computed on the connection's event loop,
/// without a task, so they come even while Swift's concurrency pool is busy.
public protocol HTTPImmediateResponder: HTTPResponder {
    /// The answer to a complete request, at once.
    func immediateResponse(to request: HTTPRequest) -> HTTPResponse
}

extension HTTPImmediateResponder {
    public func respond(to request: HTTPRequest) async -> HTTPResponse {
        immediateResponse(to: request)
    }
}
