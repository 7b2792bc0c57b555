/// How ``JanusClient`` reaches Janus and follows the room.
public struct JanusClientOptions: Sendable {
    /// `ws://host:8188[/path]` (WebSocket, subprotocol `janus-protocol`) or `http://host:8088/janus`.
    public var url: String
    /// The room, pin, display name, apisecret, token, keepalive interval.
    public var follower: JanusFollowerConfig
    /// Reconnect after the connection drops (claiming the session, or starting a new one).
    public var reconnect: Bool
    /// First and longest delay between reconnection attempts (doubling in between).
    public var reconnectInitialDelay: Double = 0.5
    public var reconnectMaxDelay: Double = 5
    /// How long to keep trying after a drop before giving up with `.connectionLost`.
    public var reconnectBudgetSeconds: Double = 60
    /// Seconds a connection attempt (TCP, and the WebSocket upgrade) may take.
    public var connectTimeoutSeconds: Double = 5
    /// Seconds `start()` waits for the join.
    public var startTimeoutSeconds: Double = 15
    /// Seconds `stop()` waits for Janus to confirm the teardown.
    public var stopTimeoutSeconds: Double = 2

    public init(url: String, follower: JanusFollowerConfig, reconnect: Bool = false) {
        self.url = url
        self.follower = follower
        self.reconnect = reconnect
    }

    public init(url: String, room: JanusRoomID, pin: String? = nil, displayName: String = "flowrec-recorder",
                apiSecret: String? = nil, token: String? = nil, keepaliveSeconds: Double = 25, reconnect: Bool = false) {
        self.init(url: url, follower: JanusFollowerConfig(room: room, pin: pin, displayName: displayName, apiSecret: apiSecret,
                                                          token: token, keepaliveSeconds: keepaliveSeconds),
                  reconnect: reconnect)
    }
}
