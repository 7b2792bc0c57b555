/// How an `HTTPServer` treats its connections and requests.
public struct HTTPServerConfiguration: Sendable {
    /// Largest request body. A larger one (by its `Content-Length`, or as it arrives) gets the
    /// responder's `payloadTooLarge` answer and the connection closes; at 0 a chunked request is
    /// refused at its head too.
    public var maxBodyBytes: Int
    /// Largest request head (request line and header fields), each field and all together; 400 beyond.
    /// nil: NIO's limit (80 KiB).
    public var maxHeadBytes: Int?
    /// Most header fields in a request (400 beyond); nil: NIO's limit.
    public var maxHeaderFields: Int?
    /// A connection that sends nothing for this long is closed (unless its request is with the responder).
    public var idleTimeout: Duration
    /// A request (head and body) must arrive whole within this time of its first byte, or the
    /// connection is closed.
    public var requestTimeout: Duration
    /// At most this many connections at once; nil: no limit. A connection beyond it closes the
    /// oldest idle one (or else the slowest one still sending its request) to take its place, and
    /// is itself closed at once only when every connection has a request being answered. Keep it
    /// below the process's descriptor limit, with what the rest of the process needs kept free.
    public var maxConnections: Int?
    /// The listening socket's backlog.
    public var backlog: Int32

    public init(maxBodyBytes: Int, maxHeadBytes: Int? = nil, maxHeaderFields: Int? = nil, idleTimeout: Duration = .seconds(60),
                requestTimeout: Duration = .seconds(10), maxConnections: Int? = nil, backlog: Int32 = 256) {
        self.requestTimeout = requestTimeout
        self.maxBodyBytes = maxBodyBytes
        self.maxHeadBytes = maxHeadBytes
        self.maxHeaderFields = maxHeaderFields
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
        self.backlog = backlog
    }
}
