import NIOCore

/// What a transport delivers: JSON texts from Janus, then one `closed` as the last element.
public enum JanusTransportInput: Sendable, Equatable {
    case text(String)
    case closed(reason: String)
}

/// A connection to the Janus API that carries JSON texts both ways.
public protocol JanusTransport: Sendable {
    /// Incoming JSON texts; ends with `.closed(reason:)` when the transport is gone.
    var inputs: AsyncStream<JanusTransportInput> { get }
    /// Queues one JSON text; texts go out in order. A failure closes the transport.
    func send(_ text: String)
    /// Closes the transport; `inputs` then ends with `.closed`.
    func close() async
}

/// Where the Janus API is: `ws://host:port[/path]` (WebSocket) or `http://host:port/janus` (REST).
public struct JanusEndpoint: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case webSocket, http
    }

    public var kind: Kind
    public var host: String
    public var port: Int
    /// `/` for WebSocket by default; the REST base path (`/janus` by default) for HTTP.
    public var path: String

    public init(kind: Kind, host: String, port: Int, path: String) {
        self.kind = kind
        self.host = host
        self.port = port
        self.path = path
    }

    /// Parses a `ws://` or `http://` URL (default ports 8188 and 8088 when none is given).
    /// - Throws: ``JanusError/invalidURL(_:reason:)``, or ``JanusError/unsupportedScheme(_:)`` for
    ///   `wss` / `https`.
    public init(url: String) throws(JanusError) {
        guard let schemeEnd = url.firstRange(of: "://") else { throw .invalidURL(url, reason: "no scheme (ws:// or http://)") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "ws": kind = .webSocket
        case "http": kind = .http
        case "wss", "https": throw .unsupportedScheme(url)
        default: throw .invalidURL(url, reason: "scheme \(scheme) is not ws or http")
        }
        var rest = url[schemeEnd.upperBound...]
        if let query = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<query] }
        let authority = rest.firstIndex(of: "/").map { rest[..<$0] } ?? rest
        let pathPart = rest[authority.endIndex...]
        guard !authority.contains("@") else { throw .invalidURL(url, reason: "credentials in the URL are not supported") }
        var hostText = Substring(authority)
        var portText: Substring?
        if hostText.hasPrefix("[") {
            guard let close = hostText.firstIndex(of: "]") else { throw .invalidURL(url, reason: "unclosed IPv6 bracket") }
            let after = hostText[hostText.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw .invalidURL(url, reason: "junk after the IPv6 address")
            }
            hostText = hostText[hostText.index(after: hostText.startIndex)..<close]
        } else if let colon = hostText.lastIndex(of: ":") {
            portText = hostText[hostText.index(after: colon)...]
            hostText = hostText[..<colon]
        }
        guard !hostText.isEmpty else { throw .invalidURL(url, reason: "no host") }
        host = String(hostText)
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else { throw .invalidURL(url, reason: "bad port") }
            port = value
        } else {
            port = kind == .webSocket ? 8188 : 8088
        }
        let trimmed = pathPart.hasSuffix("/") && pathPart.count > 1 ? pathPart.dropLast() : pathPart
        path = trimmed.isEmpty ? (kind == .webSocket ? "/" : "/janus") : String(trimmed)
    }

    /// `host:port` as a Host header wants it.
    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Connects the matching transport.
    /// - Throws: ``JanusError/unreachable(url:reason:)`` when no connection (or upgrade) succeeds
    ///   within `timeout` seconds.
    public func connect(group: any EventLoopGroup, timeout: Double = 5) async throws(JanusError) -> any JanusTransport {
        switch kind {
        case .webSocket: try await JanusWebSocketTransport.connect(to: self, group: group, timeout: timeout)
        case .http: try await JanusHTTPTransport.connect(to: self, group: group, timeout: timeout)
        }
    }

    /// The URL text, for messages.
    public var description: String { "\(kind == .webSocket ? "ws" : "http")://\(hostHeader)\(path)" }
}
