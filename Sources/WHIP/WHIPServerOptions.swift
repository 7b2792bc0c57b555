/// How the WHIP endpoint behaves; shared by `WHIPRequestHandler` and `WHIPServer`.
public struct WHIPServerOptions: Sendable {
    /// Routes live under this path: `POST {prefix}/{room}`, `PATCH|DELETE {prefix}/{room}/{session}`.
    /// Normalised to one leading slash and no trailing slash; `""` or `"/"` mounts at the root.
    public var pathPrefix: String
    /// When set, every WHIP request (not `OPTIONS`, not `/health`) needs `Authorization: Bearer <token>`.
    public var bearerToken: String?
    /// Largest accepted request body (offer or fragment); larger ones get 413 and are not buffered.
    public var maxSDPBytes: Int
    /// `Access-Control-Allow-Origin` on every response; nil sends no CORS headers at all.
    public var allowedOrigin: String?
    /// `Link` header values sent with `201 Created`, e.g. `<stun:stun.example.net:3478>; rel="ice-server"`
    /// (see `iceServerLink(_:username:credential:)`).
    public var iceServerLinks: [String]
    /// `WHIPServer` closes a connection that sends nothing for this long (unless its request is with the backend).
    public var idleTimeoutSeconds: Int
    /// A request must arrive whole within this many seconds of its first byte.
    public var requestTimeoutSeconds = 10
    /// At most this many HTTP connections at once (the oldest idle one makes way for a new one);
    /// nil: no limit. Keep it below the descriptor limit (`DescriptorLimit` in Live).
    public var maxConnections: Int?

    public init(pathPrefix: String = "/whip", bearerToken: String? = nil, maxSDPBytes: Int = 64 * 1024,
                allowedOrigin: String? = "*", iceServerLinks: [String] = [], idleTimeoutSeconds: Int = 30) {
        self.pathPrefix = pathPrefix
        self.bearerToken = bearerToken
        self.maxSDPBytes = maxSDPBytes
        self.allowedOrigin = allowedOrigin
        self.iceServerLinks = iceServerLinks
        self.idleTimeoutSeconds = idleTimeoutSeconds
    }

    /// A `Link` value announcing a STUN or TURN server (RFC 9725 §4.6), e.g.
    /// `<turn:turn.example.net?transport=udp>; rel="ice-server"; username="u"; credential="p"; credential-type="password"`.
    public static func iceServerLink(_ url: String, username: String? = nil, credential: String? = nil) -> String {
        var link = "<\(url)>; rel=\"ice-server\""
        if let username { link += "; username=\"\(quotedStringContent(username))\"" }
        if let credential {
            link += "; credential=\"\(quotedStringContent(credential))\"; credential-type=\"password\""
        }
        return link
    }

    /// `pathPrefix` as used for matching: `""` or `/segment[/segment…]`.
    var normalizedPrefix: String {
        let segments = pathPrefix.split(separator: "/")
        return segments.isEmpty ? "" : "/" + segments.joined(separator: "/")
    }

    private static func quotedStringContent(_ text: String) -> String {
        var out = ""
        for character in text {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
