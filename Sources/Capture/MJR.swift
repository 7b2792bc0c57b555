import JSONText
/// The info header of a Janus `.mjr` recording.
///
/// An 8-byte file holding only the `MJR00002` magic (Janus creates these for tracks that never
/// got media) is an empty track: `kind` is `.unknown`, `codec` and `rawJSON` are empty and both
/// times are 0. Legacy `MEETECHO` files have no JSON: kind comes from the "audio"/"video" header
/// frame, codec is what janus-pp-rec assumes ("opus"/"vp8"), times are 0.
public struct MJRHeader: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case audio, video, data
        /// Empty track (no info header was ever written).
        case unknown
    }
    public var kind: Kind
    /// "opus", "vp8", "vp9", "h264", ... as written, lower-cased.
    public var codec: String
    /// "s": when the recorder was created (µs since the epoch).
    public var createdMicros: Int64
    /// "u": when the first packet was written (µs since the epoch). Frame times are relative to it.
    public var firstPacketMicros: Int64
    /// "x": extmap id -> URI.
    public var extensions: [Int: String]
    /// "f": fmtp line, if present.
    public var fmtp: String?
    /// Pre-MJR00002 format (no per-frame times): `MEETECHO` or an `MJR00001` JSON header.
    public var isLegacy: Bool
    public var rawJSON: String

    public init(kind: Kind, codec: String, createdMicros: Int64, firstPacketMicros: Int64,
                extensions: [Int: String] = [:], fmtp: String? = nil, isLegacy: Bool = false, rawJSON: String = "") {
        self.kind = kind
        self.codec = codec
        self.createdMicros = createdMicros
        self.firstPacketMicros = firstPacketMicros
        self.extensions = extensions
        self.fmtp = fmtp
        self.isLegacy = isLegacy
        self.rawJSON = rawJSON
    }

    /// True for the empty-track file (magic only).
    public var isEmptyTrack: Bool { kind == .unknown }
}

/// Reads Janus `.mjr` recordings: MJR00002 (timed frames), MJR00001 and MEETECHO (legacy, untimed).
///
/// Arrival of a frame = header `u` + the frame's time (milliseconds since the first frame was
/// written, from Janus' monotonic clock). Legacy frames carry no time: every packet gets
/// `firstPacketMicros` (0 for MEETECHO files). Data-track frames start with an 8-byte big-endian
/// real-time µs stamp: that stamp becomes the arrival and is removed from `data`.
/// Audio/video frames shorter than 12 bytes (not RTP) are skipped and counted, as janus-pp-rec does.
public final class MJRReader: PacketReader {
    public let path: String
    public let header: MJRHeader
    public var warnings: [CaptureWarning] { log.items }
    /// Audio/video frames skipped because they were shorter than an RTP header, and data frames
    /// whose time is out of ``CaptureTime/range``.
    public private(set) var skippedFrames = 0

    /// Frames longer than this that run past the end of file are errors, not truncation.
    static let plausibleFrame = 9000 + 8
    private static let maxJSONHeader = 65535

    private let src: ByteSource
    private var log = WarningLog()
    private let timed: Bool
    private var done = false
    private var failure = StickyFailure()

    public init(path: String) throws(CaptureError) {
        self.path = path
        let src = try ByteSource(path: path)
        self.src = src
        guard src.ensure(8) else {
            throw CaptureError(path: path, offset: 0,
                               reason: src.available == 0 ? "empty file: no MJR magic"
                                   : "file too short for the 8-byte MJR magic (\(src.available) bytes)")
        }
        let magic = src.bytes(0, 8)
        let magicText = String(decoding: magic, as: UTF8.self)
        var log = WarningLog()
        if magicText.hasPrefix("MJR0000") {
            timed = magicText == "MJR00002"
            src.consume(8)
            if !src.ensure(2) {
                if src.available == 0 {
                    header = MJRHeader(kind: .unknown, codec: "", createdMicros: 0, firstPacketMicros: 0, isLegacy: !timed)
                    done = true
                    self.log = log
                    return
                }
                log.add(CaptureWarning(path: path, offset: 8, reason: "truncated header length field; treating as an empty track"))
                header = MJRHeader(kind: .unknown, codec: "", createdMicros: 0, firstPacketMicros: 0, isLegacy: !timed)
                done = true
                self.log = log
                return
            }
            let len = Int(src.u16be(0))
            if len == 0 { throw CaptureError(path: path, offset: 8, reason: "info header length 0") }
            guard src.ensure(2 + len) else {
                throw CaptureError(path: path, offset: 8,
                                   reason: "info header length \(len) runs past the end of the file (\(src.available - 2) bytes left)")
            }
            let jsonBytes = src.bytes(2, len)
            header = try MJRReader.parseInfo(jsonBytes, timed: timed, path: path)
            src.consume(2 + len)
        } else if magicText == "MEETECHO" {
            timed = false
            src.consume(8)
            guard src.ensure(2) else {
                throw CaptureError(path: path, offset: 8, reason: "legacy MEETECHO header frame truncated")
            }
            let len = Int(src.u16be(0))
            guard len >= 1 && len <= 16 else {
                throw CaptureError(path: path, offset: 8,
                                   reason: "legacy MEETECHO header frame length \(len), expected \"audio\", \"video\" or \"data\"")
            }
            guard src.ensure(2 + len) else {
                throw CaptureError(path: path, offset: 10, reason: "legacy MEETECHO header frame runs past the end of the file")
            }
            let what = src.bytes(2, len)
            let kind: MJRHeader.Kind
            let codec: String
            switch what.first {
            case UInt8(ascii: "a"): kind = .audio; codec = "opus"
            case UInt8(ascii: "v"): kind = .video; codec = "vp8"
            case UInt8(ascii: "d"): kind = .data; codec = "text"
            default:
                throw CaptureError(path: path, offset: 10,
                                   reason: "legacy MEETECHO header names unknown media \(describeBytes(what))")
            }
            header = MJRHeader(kind: kind, codec: codec, createdMicros: 0, firstPacketMicros: 0,
                               isLegacy: true, rawJSON: "")
            src.consume(2 + len)
        } else {
            throw CaptureError(path: path, offset: 0,
                               reason: "wrong magic \(describeBytes(magic)), expected \"MJR00002\" (or legacy \"MJR00001\"/\"MEETECHO\")")
        }
        self.log = log
    }

    static func parseInfo(_ jsonBytes: [UInt8], timed: Bool, path: String) throws(CaptureError) -> MJRHeader {
        let raw = String(decoding: jsonBytes.prefix(while: { $0 != 0 }), as: UTF8.self)
        let json: JSONValue
        do {
            json = try JSONValue.parse(raw)
        } catch {
            throw CaptureError(path: path, offset: 10 + Int64(error.offset), reason: "bad JSON info header: \(error.reason)")
        }
        guard case .object = json else {
            throw CaptureError(path: path, offset: 10, reason: "bad JSON info header: not an object")
        }
        guard let t = json["t"]?.string else {
            throw CaptureError(path: path, offset: 10, reason: "JSON info header has no track type \"t\"")
        }
        let kind: MJRHeader.Kind
        switch t.lowercased() {
        case "a": kind = .audio
        case "v": kind = .video
        case "d": kind = .data
        default: throw CaptureError(path: path, offset: 10, reason: "JSON info header has unknown track type \"\(t)\"")
        }
        guard let c = json["c"]?.string, !c.isEmpty else {
            throw CaptureError(path: path, offset: 10, reason: "JSON info header has no codec \"c\"")
        }
        /// A time field: absent (nil), or an integer in ``CaptureTime/range``.
        func time(_ key: String, _ what: String) throws(CaptureError) -> Int64? {
            guard let value = json[key] else { return nil }
            guard let micros = value.int.map(Int64.init), CaptureTime.range.contains(micros) else {
                throw CaptureError(path: path, offset: 10, reason: "JSON info header \(what) \"\(key)\" is \(value.double.map { "\($0)" } ?? "not a number")"
                                       + ", out of range (0 ... \(CaptureTime.maxMicros) µs since 1970)")
            }
            return micros
        }
        let s = try time("s", "created time")
        let u = try time("u", "first-frame time")
        if timed {
            guard s != nil else { throw CaptureError(path: path, offset: 10, reason: "JSON info header has no created time \"s\"") }
            guard u != nil else { throw CaptureError(path: path, offset: 10, reason: "JSON info header has no first-frame time \"u\"") }
        }
        var exts: [Int: String] = [:]
        if case let .object(members)? = json["x"] {
            for (k, v) in members {
                if let id = Int(k), let uri = v.string { exts[id] = uri }
            }
        }
        return MJRHeader(kind: kind, codec: c.lowercased(), createdMicros: s ?? 0, firstPacketMicros: u ?? s ?? 0,
                         extensions: exts, fmtp: json["f"]?.string, isLegacy: !timed, rawJSON: raw)
    }

    public func next() throws(CaptureError) -> CapturedPacket? {
        try failure.guarding { () throws(CaptureError) in try readNext() }
    }

    private func readNext() throws(CaptureError) -> CapturedPacket? {
        while !done {
            let at = src.offset
            let hs = 10  // "MEET" + u32 time + u16 len, or "MEETECHO" + u16 len
            guard src.ensure(hs) else {
                done = true
                if src.available > 0 {
                    log.add(CaptureWarning(path: path, offset: at,
                                           reason: "truncated frame header (\(src.available) of \(hs) bytes); stream ends here"))
                }
                return nil
            }
            let marker = src.bytes(0, 8)
            if marker[0] == UInt8(ascii: "M"), marker[1] == UInt8(ascii: "J") {
                // A repeated info header: janus-pp-rec skips it.
                let len = Int(src.u16be(8))
                src.consume(hs)
                if !src.skip(Int64(len)) {
                    done = true
                    log.add(CaptureWarning(path: path, offset: at, reason: "truncated repeated info header; stream ends here"))
                    return nil
                }
                continue
            }
            var ms: UInt32 = 0
            if timed {
                guard Array(marker[0..<4]) == [0x4D, 0x45, 0x45, 0x54] else {
                    throw CaptureError(path: path, offset: at, reason: "expected frame marker \"MEET\", found \(describeBytes(Array(marker[0...3])))")
                }
                ms = src.u32be(4)
            } else {
                guard marker == Array("MEETECHO".utf8) else {
                    throw CaptureError(path: path, offset: at, reason: "expected frame marker \"MEETECHO\", found \(describeBytes(marker))")
                }
            }
            let len = Int(src.u16be(8))
            if len == 0 { throw CaptureError(path: path, offset: at + 8, reason: "frame length 0") }
            guard src.ensure(hs + len) else {
                let present = src.available - hs
                done = true
                if len > MJRReader.plausibleFrame {
                    throw CaptureError(path: path, offset: at + 8,
                                       reason: "frame length \(len) runs past the end of the file (\(present) bytes left)")
                }
                log.add(CaptureWarning(path: path, offset: at,
                                       reason: "truncated last frame (\(present) of \(len) bytes); stream ends here"))
                return nil
            }
            if header.kind == .data {
                guard len >= 8 else {
                    throw CaptureError(path: path, offset: at + 8, reason: "data frame length \(len) is shorter than its 8-byte timestamp")
                }
                let when = Int64(bitPattern: UInt64(src.u32be(hs)) << 32 | UInt64(src.u32be(hs + 4)))
                guard CaptureTime.range.contains(when) else {
                    src.consume(hs + len)
                    skippedFrames += 1
                    log.add(CaptureWarning(path: path, offset: at + Int64(hs), reason: "data frame time \(when) µs out of range; frame skipped"))
                    continue
                }
                let data = src.bytes(hs + 8, len - 8)
                src.consume(hs + len)
                return CapturedPacket(arrivalMicros: when, data: data, flow: nil)
            }
            if len < 12 {
                skippedFrames += 1
                src.consume(hs + len)
                continue
            }
            let data = src.bytes(hs, len)
            src.consume(hs + len)
            // `u` is in CaptureTime.range and `ms` below 2^32: no overflow.
            let arrival = header.firstPacketMicros + Int64(ms) * 1000
            return CapturedPacket(arrivalMicros: arrival, data: data, flow: nil)
        }
        return nil
    }

    public func close() { src.close() }
}

/// Writes Janus MJR00002 recordings that janus-pp-rec accepts.
///
/// Like Janus, the file holds only the magic until the first packet: the info header is written
/// with the first packet, `u` = that packet's time, and each frame's time is
/// `(atMicros - u) / 1000` ms (clamped to 0 ... UInt32.max).
public final class MJRWriter {
    public let path: String
    public let kind: MJRHeader.Kind
    public let codec: String
    public let createdMicros: Int64
    public private(set) var firstPacketMicros: Int64?
    public private(set) var packetsWritten = 0
    private let fmtp: String?
    private let extensions: [Int: String]
    private let sink: FileSink
    private var buf: [UInt8] = []

    public init(path: String, kind: MJRHeader.Kind, codec: String, createdMicros: Int64,
                fmtp: String? = nil, extensions: [Int: String] = [:]) throws(CaptureError) {
        guard kind != .unknown else { throw CaptureError(path: path, offset: 0, reason: "MJRWriter needs an audio, video or data kind") }
        guard !codec.isEmpty else { throw CaptureError(path: path, offset: 0, reason: "MJRWriter needs a codec") }
        self.path = path
        self.kind = kind
        self.codec = codec.lowercased()
        self.createdMicros = createdMicros
        self.fmtp = fmtp
        self.extensions = extensions
        sink = try FileSink(path: path)
        try sink.write(Array("MJR00002".utf8))
    }

    func infoJSON(first: Int64) -> String {
        let t: String
        switch kind {
        case .audio: t = "a"
        case .video: t = "v"
        case .data, .unknown: t = "d"
        }
        var s = "{\"t\":\"\(t)\",\"c\":\(JSONValue.quoted(codec))"
        if let f = fmtp { s += ",\"f\":\(JSONValue.quoted(f))" }
        if !extensions.isEmpty {
            let items = extensions.keys.sorted().map { "\"\($0)\":\(JSONValue.quoted(extensions[$0]!))" }
            s += ",\"x\":{" + items.joined(separator: ",") + "}"
        }
        s += ",\"s\":\(createdMicros),\"u\":\(first)}"
        return s
    }

    /// Appends one RTP packet (or a data-channel message for `.data`) seen at `atMicros`.
    public func write(_ rtp: [UInt8], atMicros: Int64) throws(CaptureError) {
        let extra = kind == .data ? 8 : 0
        guard !rtp.isEmpty, rtp.count + extra <= 65535 else {
            throw CaptureError(path: path, offset: sink.written, reason: "packet length \(rtp.count) does not fit an .mjr frame")
        }
        buf.removeAll(keepingCapacity: true)
        let first: Int64
        if let f = firstPacketMicros {
            first = f
        } else {
            first = atMicros
            firstPacketMicros = atMicros
            let json = Array(infoJSON(first: atMicros).utf8)
            buf.appendBE16(UInt16(json.count))
            buf.append(contentsOf: json)
        }
        let rel = atMicros > first ? (atMicros - first) / 1000 : 0
        buf.append(contentsOf: [0x4D, 0x45, 0x45, 0x54])  // "MEET"
        buf.appendBE32(UInt32(min(rel, Int64(UInt32.max))))
        buf.appendBE16(UInt16(rtp.count + extra))
        if kind == .data { buf.appendBE64(UInt64(bitPattern: atMicros)) }
        buf.append(contentsOf: rtp)
        try sink.write(buf)
        packetsWritten += 1
    }

    /// Pushes buffered bytes to the OS; with `sync`, also to stable storage (fsync).
    public func flush(sync: Bool = false) throws(CaptureError) { try sink.flush(sync: sync) }

    public func close() throws(CaptureError) { try sink.close() }
}
