/// Module `SDP`: parses and writes Session Description Protocol documents (RFC 8866) with the
/// attributes WebRTC uses (RFC 8829 JSEP): rtpmap, fmtp, rtcp-fb, extmap, ssrc, mid, BUNDLE groups,
/// ICE credentials and candidates, DTLS fingerprint and setup role, direction.
///
/// The model keeps every line it does not interpret, so a parsed description serializes back
/// without losing anything.

/// An SDP parse failure, naming the line.
public struct SDPError: Error, Sendable, CustomStringConvertible {
    /// 1-based line number in the document.
    public var line: Int
    public var reason: String
    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }
    public var description: String { "SDP line \(line): \(reason)" }
}

/// An `a=` attribute: `a=name` or `a=name:value`.
public struct SDPAttribute: Sendable, Equatable {
    public var name: String
    public var value: String?
    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }
    var line: String { value.map { "a=\(name):\($0)" } ?? "a=\(name)" }
}

/// One payload format of a media section: its `rtpmap`, `fmtp` and `rtcp-fb` lines together.
public struct SDPPayloadFormat: Sendable, Equatable {
    public var payloadType: UInt8
    /// Encoding name as written (`opus`, `VP8`, `rtx`).
    public var encodingName: String
    public var clockRate: Int
    public var channels: Int?
    /// The `a=fmtp` parameters, in order (`apt=96`, `minptime=10`, ...).
    public var parameters: [(key: String, value: String)]
    /// `a=rtcp-fb` values (`nack`, `nack pli`, `ccm fir`, `goog-remb`, `transport-cc`).
    public var feedback: [String]

    public init(payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil,
                parameters: [(key: String, value: String)] = [], feedback: [String] = []) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
        self.feedback = feedback
    }

    /// Value of one fmtp parameter.
    public func parameter(_ key: String) -> String? {
        parameters.first { $0.key.lowercased() == key.lowercased() }?.value
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.payloadType == b.payloadType && a.encodingName == b.encodingName && a.clockRate == b.clockRate
            && a.channels == b.channels && a.feedback == b.feedback
            && a.parameters.map(\.key) == b.parameters.map(\.key) && a.parameters.map(\.value) == b.parameters.map(\.value)
    }
}

/// One `m=` section.
public struct SDPMediaSection: Sendable, Equatable {
    /// `audio`, `video`, `application`.
    public var media: String
    public var port: Int
    /// `UDP/TLS/RTP/SAVPF`, `RTP/AVP`, ...
    public var proto: String
    /// Format tokens as listed on the m-line (payload types for RTP).
    public var formats: [String]
    /// `c=` line of this section, if any.
    public var connection: String?
    /// Every `a=` line in order, including the ones also exposed through accessors.
    public var attributes: [SDPAttribute]
    /// Other lines of the section (`b=`, `i=`, ...), kept verbatim.
    public var otherLines: [String]

    public init(media: String, port: Int, proto: String, formats: [String], connection: String? = nil,
                attributes: [SDPAttribute] = [], otherLines: [String] = []) {
        self.media = media
        self.port = port
        self.proto = proto
        self.formats = formats
        self.connection = connection
        self.attributes = attributes
        self.otherLines = otherLines
    }

    /// First value of attribute `name`.
    public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
    /// All values of attribute `name`.
    public func attributes(_ name: String) -> [String] { attributes.filter { $0.name == name }.compactMap(\.value) }
    /// Whether a value-less attribute (`a=rtcp-mux`) is present.
    public func hasFlag(_ name: String) -> Bool { attributes.contains { $0.name == name } }

    /// `a=mid`.
    public var mid: String? { attribute("mid") }

    /// Direction: `sendrecv` (default), `sendonly`, `recvonly`, `inactive`.
    public var direction: String {
        for a in attributes where ["sendrecv", "sendonly", "recvonly", "inactive"].contains(a.name) { return a.name }
        return "sendrecv"
    }

    /// The payload formats listed on the m-line with their rtpmap/fmtp/rtcp-fb. Static payload
    /// types without rtpmap (0 PCMU, 8 PCMA) get their RFC 3551 names.
    public var payloadFormats: [SDPPayloadFormat] {
        var byType: [UInt8: SDPPayloadFormat] = [:]
        var order: [UInt8] = []
        for token in formats {
            guard let pt = UInt8(token) else { continue }
            order.append(pt)
            switch pt {
            case 0: byType[pt] = SDPPayloadFormat(payloadType: 0, encodingName: "PCMU", clockRate: 8000, channels: 1)
            case 8: byType[pt] = SDPPayloadFormat(payloadType: 8, encodingName: "PCMA", clockRate: 8000, channels: 1)
            default: break
            }
        }
        for value in attributes("rtpmap") {
            let (ptText, rest) = value.splitOnce(" ")
            guard let pt = UInt8(ptText), let rest else { continue }
            let parts = rest.split(separator: "/").map(String.init)
            guard parts.count >= 2, let rate = Int(parts[1]) else { continue }
            byType[pt] = SDPPayloadFormat(payloadType: pt, encodingName: parts[0], clockRate: rate,
                                          channels: parts.count > 2 ? Int(parts[2]) : nil)
        }
        for value in attributes("fmtp") {
            let (ptText, rest) = value.splitOnce(" ")
            guard let pt = UInt8(ptText), let rest, byType[pt] != nil else { continue }
            byType[pt]!.parameters = rest.split(separator: ";").map { item in
                let (k, v) = String(item).trimmed.splitOnce("=")
                return (k, v ?? "")
            }
        }
        for value in attributes("rtcp-fb") {
            let (ptText, rest) = value.splitOnce(" ")
            guard let rest else { continue }
            if ptText == "*" {
                for pt in byType.keys { byType[pt]!.feedback.append(rest) }
            } else if let pt = UInt8(ptText), byType[pt] != nil {
                byType[pt]!.feedback.append(rest)
            }
        }
        return order.compactMap { byType[$0] }
    }

    /// `a=extmap` entries: id → URI.
    public var headerExtensions: [Int: String] {
        var map: [Int: String] = [:]
        for value in attributes("extmap") {
            let (idText, rest) = value.splitOnce(" ")
            guard let id = Int(idText.split(separator: "/").first ?? ""), let rest else { continue }
            map[id] = String(rest.split(separator: " ").first ?? "")
        }
        return map
    }

    /// SSRCs announced with `a=ssrc:<id> <attr>`, with their `cname`, in first-seen order.
    public var ssrcs: [(ssrc: UInt32, cname: String?)] {
        var out: [(ssrc: UInt32, cname: String?)] = []
        for value in attributes("ssrc") {
            let (idText, rest) = value.splitOnce(" ")
            guard let ssrc = UInt32(idText) else { continue }
            var cname: String?
            if let rest, rest.hasPrefix("cname:") { cname = String(rest.dropFirst(6)) }
            if let i = out.firstIndex(where: { $0.ssrc == ssrc }) {
                if out[i].cname == nil { out[i].cname = cname }
            } else {
                out.append((ssrc, cname))
            }
        }
        return out
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.media == b.media && a.port == b.port && a.proto == b.proto && a.formats == b.formats
            && a.connection == b.connection && a.attributes == b.attributes && a.otherLines == b.otherLines
    }
}

/// A whole SDP document.
public struct SessionDescription: Sendable, Equatable {
    /// Session-level lines before the first `m=` other than `a=` (v=, o=, s=, t=, c=, ...), verbatim.
    public var sessionLines: [String]
    /// Session-level `a=` attributes.
    public var attributes: [SDPAttribute]
    public var media: [SDPMediaSection]

    public init(sessionLines: [String], attributes: [SDPAttribute] = [], media: [SDPMediaSection] = []) {
        self.sessionLines = sessionLines
        self.attributes = attributes
        self.media = media
    }

    /// Parses a document. Accepts CRLF or LF line ends; rejects lines that are not `x=...`.
    public init(parsing text: String) throws(SDPError) {
        sessionLines = []
        attributes = []
        media = []
        var sawVersion = false
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
            let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : String(raw)
            let number = index + 1
            if line.isEmpty { continue }
            let chars = Array(line.utf8)
            guard chars.count >= 2, chars[1] == UInt8(ascii: "="), (97...122).contains(chars[0]) else {
                throw SDPError(line: number, reason: "expected 'x=value', found \"\(line.prefix(60))\"")
            }
            let type = Character(UnicodeScalar(chars[0]))
            let value = String(line.dropFirst(2))
            if !sawVersion {
                guard type == "v" else { throw SDPError(line: number, reason: "document must start with v=0") }
                sawVersion = true
            }
            switch type {
            case "m":
                let parts = value.split(separator: " ").map(String.init)
                guard parts.count >= 3, let port = Int(parts[1].split(separator: "/").first ?? "") else {
                    throw SDPError(line: number, reason: "malformed m-line \"\(value.prefix(60))\"")
                }
                media.append(SDPMediaSection(media: parts[0], port: port,
                                             proto: parts[2], formats: Array(parts.dropFirst(3))))
            case "a":
                let (name, attrValue) = value.splitOnce(":")
                let attribute = SDPAttribute(name, attrValue)
                if media.isEmpty { attributes.append(attribute) } else { media[media.count - 1].attributes.append(attribute) }
            case "c" where !media.isEmpty:
                media[media.count - 1].connection = value
            default:
                if media.isEmpty { sessionLines.append(line) } else { media[media.count - 1].otherLines.append(line) }
            }
        }
        guard sawVersion else { throw SDPError(line: 1, reason: "empty document") }
    }

    /// Session-level attribute value.
    public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }

    /// Mids in the first `a=group:BUNDLE`.
    public var bundleMids: [String] {
        for a in attributes where a.name == "group" {
            let parts = (a.value ?? "").split(separator: " ").map(String.init)
            if parts.first == "BUNDLE" { return Array(parts.dropFirst()) }
        }
        return []
    }

    /// The document as text, CRLF line ends.
    public var serialized: String {
        var lines = sessionLines
        lines += attributes.map(\.line)
        for m in media {
            lines.append("m=\(m.media) \(m.port) \(m.proto) \(m.formats.joined(separator: " "))")
            lines += m.otherLines.filter { $0.hasPrefix("i=") }
            if let c = m.connection { lines.append("c=\(c)") }
            lines += m.otherLines.filter { !$0.hasPrefix("i=") }
            lines += m.attributes.map(\.line)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

extension String {
    /// Splits at the first `separator`: ("a", "b c") for "a b c"; (self, nil) when absent.
    func splitOnce(_ separator: Character) -> (String, String?) {
        guard let i = firstIndex(of: separator) else { return (self, nil) }
        return (String(self[..<i]), String(self[index(after: i)...]))
    }

    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
