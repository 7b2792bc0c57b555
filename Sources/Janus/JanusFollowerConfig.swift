/// What the follower needs to know about the room and the server.
public struct JanusFollowerConfig: Sendable, Equatable {
    public var room: JanusRoomID
    /// The room's pin, when it has one.
    public var pin: String?
    /// The watcher's display name in the room.
    public var displayName: String
    /// Janus's `apisecret`, sent with every request when set.
    public var apiSecret: String?
    /// A token (`token`), sent with every request when set.
    public var token: String?
    /// Seconds between keepalives on an otherwise idle session; keep well under Janus's
    /// `session_timeout` (60 s by default).
    public var keepaliveSeconds: Double
    /// Seconds Janus has to answer a request before the follower gives up on it.
    public var requestTimeoutSeconds: Double
    /// Prefix of the transaction ids (followed by a counter).
    public var transactionPrefix: String

    public init(room: JanusRoomID, pin: String? = nil, displayName: String = "flowrec-recorder",
                apiSecret: String? = nil, token: String? = nil, keepaliveSeconds: Double = 25,
                requestTimeoutSeconds: Double = 10, transactionPrefix: String = "fr") {
        self.room = room
        self.pin = pin
        self.displayName = displayName
        self.apiSecret = apiSecret
        self.token = token
        self.keepaliveSeconds = keepaliveSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.transactionPrefix = transactionPrefix
    }
}
