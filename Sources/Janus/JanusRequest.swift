import JSONText

/// One request to the Janus core API, as the follower sends it.
public struct JanusRequest: Sendable, Equatable {
    /// The `janus` verb.
    public enum Verb: String, Sendable {
        case create, attach, message, trickle, keepalive, detach, destroy, claim
    }

    public var verb: Verb
    public var transaction: String
    public var sessionID: UInt64?
    public var handleID: UInt64?
    /// `attach`: the plugin package name.
    public var plugin: String?
    /// `message`: the plugin request.
    public var body: JSONValue?
    /// `message`: an SDP (`{"type":"answer","sdp":...}`).
    public var jsep: JSONValue?
    /// `trickle`: one candidate object, or `{"completed":true}`.
    public var candidate: JSONValue?
    /// Janus's `apisecret`, when the server is configured with one.
    public var apiSecret: String?
    /// A stored or signed token (`token`), when the server requires one.
    public var token: String?

    public init(verb: Verb, transaction: String, sessionID: UInt64? = nil, handleID: UInt64? = nil,
                plugin: String? = nil, body: JSONValue? = nil, jsep: JSONValue? = nil, candidate: JSONValue? = nil,
                apiSecret: String? = nil, token: String? = nil) {
        self.verb = verb
        self.transaction = transaction
        self.sessionID = sessionID
        self.handleID = handleID
        self.plugin = plugin
        self.body = body
        self.jsep = jsep
        self.candidate = candidate
        self.apiSecret = apiSecret
        self.token = token
    }

    /// The request as a JSON object.
    public var json: JSONValue {
        var members: [String: JSONValue] = ["janus": .string(verb.rawValue), "transaction": .string(transaction)]
        if let sessionID { members["session_id"] = .int(sessionID) }
        if let handleID { members["handle_id"] = .int(handleID) }
        if let plugin { members["plugin"] = .string(plugin) }
        if let body { members["body"] = body }
        if let jsep { members["jsep"] = jsep }
        if let candidate { members["candidate"] = candidate }
        if let apiSecret { members["apisecret"] = .string(apiSecret) }
        if let token { members["token"] = .string(token) }
        return .object(members)
    }

    /// The request as the JSON text to send.
    public var text: String { json.text }

    /// The plugin request name of a `message` (`join`, `start`, …).
    public var pluginRequest: String? { body?["request"]?.string }
}
