/// One header extension element (RFC 8285): a local identifier and its bytes.
public struct RTPHeaderExtension: Sendable, Equatable {
    /// 1...14 for the one-byte form, 1...255 for the two-byte form.
    public var id: UInt8
    public var data: [UInt8]

    public init(id: UInt8, data: [UInt8]) {
        self.id = id
        self.data = data
    }
}

/// An RTP packet (RFC 3550 §5.1) with RFC 8285 header extensions.
public struct RTPPacket: Sendable, Equatable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]
    /// The extension profile when the X bit is set: 0xBEDE one-byte, 0x1000...0x100F two-byte (RFC 8285), other = opaque.
    public var extensionProfile: UInt16?
    /// Parsed one-byte or two-byte elements (empty for an opaque profile).
    public var extensions: [RTPHeaderExtension]
    /// The extension body of an opaque (non RFC 8285) profile, kept so it can be written back.
    public var opaqueExtensionData: [UInt8]
    /// The payload, padding removed.
    public var payload: ArraySlice<UInt8>
    /// Number of padding bytes (including the count byte) that followed the payload; 0 when the P bit is clear.
    public var paddingLength: Int

    public static let oneByteProfile: UInt16 = 0xBEDE
    public static let twoByteProfile: UInt16 = 0x1000

    public init(payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
                marker: Bool = false, csrcs: [UInt32] = [], extensions: [RTPHeaderExtension] = [],
                payload: [UInt8]) {
        self.marker = marker
        self.payloadType = payloadType & 0x7F
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.extensionProfile = nil
        self.extensions = extensions
        self.opaqueExtensionData = []
        self.payload = payload[...]
        self.paddingLength = 0
    }

    /// Parses one RTP packet. Throws with the offending offset for anything malformed; never traps.
    public init(parsing bytes: [UInt8]) throws(RTPError) {
        let n = bytes.count
        guard n >= 12 else { throw RTPError(offset: 0, reason: "RTP header needs 12 bytes, have \(n)") }
        let b0 = bytes[0]
        guard b0 >> 6 == 2 else { throw RTPError(offset: 0, reason: "RTP version \(b0 >> 6), expected 2") }
        let hasPadding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let cc = Int(b0 & 0x0F)
        marker = bytes[1] & 0x80 != 0
        payloadType = bytes[1] & 0x7F
        sequenceNumber = readU16(bytes, 2)
        timestamp = readU32(bytes, 4)
        ssrc = readU32(bytes, 8)
        var i = 12
        guard i + 4 * cc <= n else { throw RTPError(offset: i, reason: "\(cc) CSRCs run past the end (\(n) bytes)") }
        var csrcs: [UInt32] = []
        csrcs.reserveCapacity(cc)
        for _ in 0..<cc {
            csrcs.append(readU32(bytes, i))
            i += 4
        }
        self.csrcs = csrcs
        extensionProfile = nil
        extensions = []
        opaqueExtensionData = []
        if hasExtension {
            guard i + 4 <= n else { throw RTPError(offset: i, reason: "header extension header truncated") }
            let profile = readU16(bytes, i)
            let words = Int(readU16(bytes, i + 2))
            let start = i + 4
            let end = start + 4 * words
            guard end <= n else {
                throw RTPError(offset: i + 2, reason: "header extension of \(words) words runs past the end (\(n) bytes)")
            }
            extensionProfile = profile
            if profile == RTPPacket.oneByteProfile {
                extensions = try Self.parseOneByte(bytes, start, end)
            } else if profile & 0xFFF0 == RTPPacket.twoByteProfile {
                extensions = try Self.parseTwoByte(bytes, start, end)
            } else {
                opaqueExtensionData = Array(bytes[start..<end])
            }
            i = end
        }
        var payloadEnd = n
        paddingLength = 0
        if hasPadding {
            guard n > i else { throw RTPError(offset: n, reason: "P bit set but no padding byte") }
            let pad = Int(bytes[n - 1])
            guard pad >= 1, pad <= n - i else {
                throw RTPError(offset: n - 1, reason: "padding length \(pad) invalid for \(n - i) bytes after the header")
            }
            paddingLength = pad
            payloadEnd = n - pad
        }
        payload = bytes[i..<payloadEnd]
    }

    private static func parseOneByte(_ b: [UInt8], _ start: Int, _ end: Int) throws(RTPError) -> [RTPHeaderExtension] {
        var out: [RTPHeaderExtension] = []
        var i = start
        while i < end {
            let byte = b[i]
            if byte == 0 { i += 1; continue }          // padding
            let id = byte >> 4
            if id == 15 { break }                       // reserved: stop processing
            let len = Int(byte & 0x0F) + 1
            guard i + 1 + len <= end else {
                throw RTPError(offset: i, reason: "one-byte extension id \(id) of \(len) bytes runs past the extension block")
            }
            out.append(RTPHeaderExtension(id: id, data: Array(b[(i + 1)..<(i + 1 + len)])))
            i += 1 + len
        }
        return out
    }

    private static func parseTwoByte(_ b: [UInt8], _ start: Int, _ end: Int) throws(RTPError) -> [RTPHeaderExtension] {
        var out: [RTPHeaderExtension] = []
        var i = start
        while i < end {
            let id = b[i]
            if id == 0 { i += 1; continue }            // padding
            guard i + 2 <= end else { throw RTPError(offset: i, reason: "two-byte extension id \(id) has no length byte") }
            let len = Int(b[i + 1])
            guard i + 2 + len <= end else {
                throw RTPError(offset: i, reason: "two-byte extension id \(id) of \(len) bytes runs past the extension block")
            }
            out.append(RTPHeaderExtension(id: id, data: Array(b[(i + 2)..<(i + 2 + len)])))
            i += 2 + len
        }
        return out
    }

    /// The data of the first extension element with `id`, if any.
    public func extensionData(id: UInt8) -> [UInt8]? {
        extensions.first(where: { $0.id == id })?.data
    }

    /// True when every extension fits the one-byte form (id 1...14, 1...16 bytes).
    var extensionsFitOneByte: Bool {
        extensions.allSatisfy { $0.id >= 1 && $0.id <= 14 && !$0.data.isEmpty && $0.data.count <= 16 }
    }

    /// Wire bytes. Extensions are written in the one-byte form when all fit (id 1...14, 1...16 bytes) and
    /// the packet was not parsed with a two-byte profile, else in the two-byte form (data truncated to 255 bytes).
    /// An opaque profile is written back as it was parsed.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(12 + 4 * csrcs.count + 64 + payload.count + paddingLength)
        let cc = min(csrcs.count, 15)
        let pad = min(max(paddingLength, 0), 255)
        var ext: [UInt8] = []
        var profile: UInt16? = nil
        if !extensions.isEmpty {
            let parsedTwoByte = extensionProfile.map { $0 & 0xFFF0 == RTPPacket.twoByteProfile } ?? false
            if extensionsFitOneByte && !parsedTwoByte {
                profile = RTPPacket.oneByteProfile
                for e in extensions {
                    ext.append(e.id << 4 | UInt8(e.data.count - 1))
                    ext.append(contentsOf: e.data)
                }
            } else {
                profile = parsedTwoByte ? extensionProfile! : RTPPacket.twoByteProfile
                for e in extensions where e.id != 0 {
                    let d = e.data.prefix(255)
                    ext.append(e.id)
                    ext.append(UInt8(d.count))
                    ext.append(contentsOf: d)
                }
            }
        } else if let p = extensionProfile {
            profile = p
            if p != RTPPacket.oneByteProfile && p & 0xFFF0 != RTPPacket.twoByteProfile {
                ext = opaqueExtensionData
            }
        }
        while ext.count % 4 != 0 { ext.append(0) }
        let b0: UInt8 = 0x80 | (pad > 0 ? 0x20 : 0) | (profile != nil ? 0x10 : 0) | UInt8(cc)
        out.append(b0)
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.appendU16(sequenceNumber)
        out.appendU32(timestamp)
        out.appendU32(ssrc)
        for c in csrcs.prefix(cc) { out.appendU32(c) }
        if let profile {
            let words = min(ext.count / 4, 0xFFFF)
            out.appendU16(profile)
            out.appendU16(UInt16(words))
            out.append(contentsOf: ext.prefix(words * 4))
        }
        out.append(contentsOf: payload)
        if pad > 0 {
            out.append(contentsOf: repeatElement(0, count: pad - 1))
            out.append(UInt8(pad))
        }
        return out
    }
}
