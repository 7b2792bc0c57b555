import JSONText

/// One message from the Janus core API, decoded leniently: unknown members are ignored, ids may be
/// numbers or digit strings.
public struct JanusMessage: Sendable {
    /// The `janus` member: `success`, `error`, `ack`, `event`, `webrtcup`, `media`, `hangup`,
    /// `slowlink`, `detached`, `timeout`, `trickle`, `keepalive`, …
    public var kind: String
    public var transaction: String?
    public var sessionID: UInt64?
    /// The handle the message is about (`sender`).
    public var sender: UInt64?
    /// `success` to `create`/`attach`: the new id (`data.id`).
    public var dataID: UInt64?
    /// `error`: its code and reason.
    public var error: (code: Int, reason: String)?
    /// `event`: the plugin's `plugindata.data` object.
    public var pluginData: JSONValue?
    /// `event`: a JSEP, when it has a string `type` and `sdp`.
    public var jsep: (type: String, sdp: String)?
    /// The whole message.
    public var raw: JSONValue

    /// Decodes one JSON text; the error is a short reason for the diagnostics.
    public static func decode(_ text: String) -> Result<JanusMessage, JanusIgnoredReason> {
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            return .failure(.init("not JSON (\(error.reason) at byte \(error.offset))"))
        }
        return decode(value)
    }

    /// Decodes one parsed message.
    public static func decode(_ value: JSONValue) -> Result<JanusMessage, JanusIgnoredReason> {
        guard case .object = value else { return .failure(.init("not a JSON object but \(value.kindName)")) }
        guard let kind = value["janus"]?.string else { return .failure(.init("no string \"janus\" member")) }
        var message = JanusMessage(kind: kind, raw: value)
        if let transaction = value["transaction"] {
            guard let text = lenientString(transaction) else {
                return .failure(.init("\(kind): transaction is \(transaction.kindName)"))
            }
            message.transaction = text
        }
        if let session = value["session_id"] {
            guard let id = lenientID(session) else { return .failure(.init("\(kind): session_id is not a 64-bit id")) }
            message.sessionID = id
        }
        if let sender = value["sender"] {
            guard let id = lenientID(sender) else { return .failure(.init("\(kind): sender is not a 64-bit id")) }
            message.sender = id
        }
        if let data = value["data"], let id = data["id"] {
            guard let number = lenientID(id) else { return .failure(.init("\(kind): data.id is not a 64-bit id")) }
            message.dataID = number
        }
        if kind == "error" {
            let error = value["error"]
            let code = error?["code"].flatMap(lenientInt) ?? 0
            message.error = (code, error?["reason"]?.string ?? "unknown error")
        }
        if let pluginData = value["plugindata"] {
            guard let data = pluginData["data"], case .object = data else {
                return .failure(.init("\(kind): plugindata.data is not an object"))
            }
            message.pluginData = data
        }
        if let jsep = value["jsep"] {
            guard let type = jsep["type"]?.string, let sdp = jsep["sdp"]?.string else {
                return .failure(.init("\(kind): jsep without string type and sdp"))
            }
            message.jsep = (type, sdp)
        }
        return .success(message)
    }

    init(kind: String, raw: JSONValue) {
        self.kind = kind
        self.raw = raw
    }
}

/// A number or a digit string that fits in 64 bits.
func lenientID(_ value: JSONValue) -> UInt64? {
    if let number = value.uint64 { return number }
    if let text = value.string, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) { return UInt64(text) }
    return nil
}

/// An integer number or an integer string.
func lenientInt(_ value: JSONValue) -> Int? {
    value.int ?? value.string.flatMap { Int($0) }
}

/// A string, or a number's literal.
func lenientString(_ value: JSONValue) -> String? {
    switch value {
    case .string(let text): text
    case .number(let literal): literal
    default: nil
    }
}

/// Why an incoming message was ignored.
public struct JanusIgnoredReason: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
