/// RTCP packets (RFC 3550 §6, RFC 4585 feedback, RFC 5104 FIR, draft-alvestrand-rmcat-remb).

/// A report block of an SR or RR (RFC 3550 §6.4.1).
public struct ReceptionReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, in 1/256.
    public var fractionLost: UInt8
    /// Cumulative number of packets lost (24-bit signed on the wire).
    public var cumulativeLost: Int32
    /// Extended highest sequence number received (cycles << 16 | seq).
    public var highestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR).
    public var lastSenderReport: UInt32
    /// Delay since that SR, in 1/65536 s (DLSR).
    public var delaySinceLastSenderReport: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8 = 0, cumulativeLost: Int32 = 0, highestSequence: UInt32 = 0,
                jitter: UInt32 = 0, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.highestSequence = highestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }
}

/// RTCP SR (PT 200).
public struct SenderReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp (see `NTPTime`).
    public var ntpTimestamp: UInt64
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    public var reports: [ReceptionReport]

    public init(ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32, octetCount: UInt32,
                reports: [ReceptionReport] = []) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
    }
}

/// RTCP RR (PT 201).
public struct ReceiverReport: Sendable, Equatable {
    public var ssrc: UInt32
    public var reports: [ReceptionReport]

    public init(ssrc: UInt32, reports: [ReceptionReport] = []) {
        self.ssrc = ssrc
        self.reports = reports
    }
}

/// One SDES item (RFC 3550 §6.5): 1 CNAME, 2 NAME, 3 EMAIL, ... 8 PRIV.
public struct SDESItem: Sendable, Equatable {
    public var type: UInt8
    public var text: String

    public static let cnameType: UInt8 = 1

    public init(type: UInt8, text: String) {
        self.type = type
        self.text = text
    }
}

/// One SDES chunk: a source and its items.
public struct SDESChunk: Sendable, Equatable {
    public var ssrc: UInt32
    public var items: [SDESItem]

    public init(ssrc: UInt32, items: [SDESItem]) {
        self.ssrc = ssrc
        self.items = items
    }

    /// The CNAME item's text, if present.
    public var cname: String? { items.first(where: { $0.type == SDESItem.cnameType })?.text }
}

/// RTCP BYE (PT 203).
public struct Goodbye: Sendable, Equatable {
    public var ssrcs: [UInt32]
    public var reason: String?

    public init(ssrcs: [UInt32], reason: String? = nil) {
        self.ssrcs = ssrcs
        self.reason = reason
    }
}

/// RFC 4585 §6.2.1 Generic NACK (RTPFB, FMT 1); `lost` is the expanded PID/BLP list.
public struct GenericNACK: Sendable, Equatable {
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var lost: [UInt16]

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lost: [UInt16]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.lost = lost
    }
}

/// One FIR entry (RFC 5104 §4.3.1).
public struct FIREntry: Sendable, Equatable {
    public var ssrc: UInt32
    public var sequenceNumber: UInt8

    public init(ssrc: UInt32, sequenceNumber: UInt8) {
        self.ssrc = ssrc
        self.sequenceNumber = sequenceNumber
    }
}

/// RFC 5104 Full Intra Request (PSFB, FMT 4).
public struct FIR: Sendable, Equatable {
    public var senderSSRC: UInt32
    public var entries: [FIREntry]

    public init(senderSSRC: UInt32, entries: [FIREntry]) {
        self.senderSSRC = senderSSRC
        self.entries = entries
    }
}

/// Receiver Estimated Maximum Bitrate (PSFB FMT 15, "REMB").
public struct REMB: Sendable, Equatable {
    public var senderSSRC: UInt32
    /// Bits per second (mantissa × 2^exponent on the wire; serialization rounds down to 18 significant bits).
    public var bitrate: UInt64
    public var ssrcs: [UInt32]

    public init(senderSSRC: UInt32, bitrate: UInt64, ssrcs: [UInt32]) {
        self.senderSSRC = senderSSRC
        self.bitrate = bitrate
        self.ssrcs = ssrcs
    }
}

/// One packet of an RTCP compound packet.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(SenderReport)
    case receiverReport(ReceiverReport)
    case sourceDescription([SDESChunk])
    case goodbye(Goodbye)
    case nack(GenericNACK)
    case pictureLossIndication(senderSSRC: UInt32, mediaSSRC: UInt32)
    case fullIntraRequest(FIR)
    case remb(REMB)
    /// Transport-wide congestion control feedback (RTPFB FMT 15).
    case transportFeedback(TransportFeedback)
    /// A packet type (or feedback FMT, given as `count`) this module does not decode; it is skipped.
    case unknown(packetType: UInt8, count: UInt8)
}

/// RTCP compound parsing and serialization.
public enum RTCP {
    public static let typeSR: UInt8 = 200
    public static let typeRR: UInt8 = 201
    public static let typeSDES: UInt8 = 202
    public static let typeBYE: UInt8 = 203
    public static let typeAPP: UInt8 = 204
    public static let typeRTPFB: UInt8 = 205
    public static let typePSFB: UInt8 = 206
    public static let typeXR: UInt8 = 207

    /// Parses a compound RTCP packet. Every length field is checked against the input; a packet running past
    /// the end, a truncated header or a version other than 2 throws with the offset of the offending header.
    public static func parseCompound(_ bytes: [UInt8]) throws(RTPError) -> [RTCPPacket] {
        var out: [RTCPPacket] = []
        var i = 0
        let n = bytes.count
        guard n > 0 else { throw RTPError(offset: 0, reason: "empty RTCP packet") }
        while i < n {
            guard i + 4 <= n else { throw RTPError(offset: i, reason: "RTCP header truncated (\(n - i) bytes left)") }
            let b0 = bytes[i]
            guard b0 >> 6 == 2 else { throw RTPError(offset: i, reason: "RTCP version \(b0 >> 6), expected 2") }
            let count = b0 & 0x1F
            let pt = bytes[i + 1]
            let length = 4 * (Int(readU16(bytes, i + 2)) + 1)
            guard i + length <= n else {
                throw RTPError(offset: i + 2, reason: "RTCP packet type \(pt) length \(length) runs past the end (\(n - i) bytes left)")
            }
            var end = i + length
            if b0 & 0x20 != 0 {
                let pad = Int(bytes[end - 1])
                guard pad >= 1, pad <= length - 4 else {
                    throw RTPError(offset: end - 1, reason: "RTCP padding \(pad) invalid in a \(length)-byte packet")
                }
                end -= pad
            }
            out.append(try parseOne(bytes, start: i, bodyStart: i + 4, end: end, count: count, type: pt))
            i += length
        }
        return out
    }

    private static func parseOne(_ b: [UInt8], start: Int, bodyStart: Int, end: Int, count: UInt8, type: UInt8) throws(RTPError) -> RTCPPacket {
        var i = bodyStart
        func need(_ k: Int, _ what: String) throws(RTPError) {
            guard i + k <= end else { throw RTPError(offset: i, reason: "\(what) truncated in RTCP type \(type) at \(start)") }
        }
        func reports(_ rc: Int) throws(RTPError) -> [ReceptionReport] {
            var r: [ReceptionReport] = []
            r.reserveCapacity(rc)
            for _ in 0..<rc {
                try need(24, "report block")
                let lostRaw = readU24(b, i + 5)
                let lost = Int32(bitPattern: lostRaw & 0x80_0000 != 0 ? lostRaw | 0xFF00_0000 : lostRaw)
                r.append(ReceptionReport(ssrc: readU32(b, i), fractionLost: b[i + 4], cumulativeLost: lost,
                                         highestSequence: readU32(b, i + 8), jitter: readU32(b, i + 12),
                                         lastSenderReport: readU32(b, i + 16), delaySinceLastSenderReport: readU32(b, i + 20)))
                i += 24
            }
            return r
        }
        switch type {
        case typeSR:
            try need(24, "sender info")
            let ssrc = readU32(b, i)
            let ntp = readU64(b, i + 4)
            let rtp = readU32(b, i + 12)
            let pc = readU32(b, i + 16)
            let oc = readU32(b, i + 20)
            i += 24
            let r = try reports(Int(count))
            return .senderReport(SenderReport(ssrc: ssrc, ntpTimestamp: ntp, rtpTimestamp: rtp, packetCount: pc, octetCount: oc, reports: r))
        case typeRR:
            try need(4, "RR SSRC")
            let ssrc = readU32(b, i)
            i += 4
            return .receiverReport(ReceiverReport(ssrc: ssrc, reports: try reports(Int(count))))
        case typeSDES:
            var chunks: [SDESChunk] = []
            for _ in 0..<Int(count) {
                try need(4, "SDES chunk SSRC")
                let ssrc = readU32(b, i)
                i += 4
                var items: [SDESItem] = []
                while true {
                    try need(1, "SDES item")
                    let t = b[i]
                    if t == 0 {
                        i += 1
                        i = (i + 3) & ~3 // chunks end on a 32-bit boundary (relative to packet start, which is aligned)
                        break
                    }
                    try need(2, "SDES item length")
                    let len = Int(b[i + 1])
                    guard i + 2 + len <= end else { throw RTPError(offset: i, reason: "SDES item of \(len) bytes runs past the packet") }
                    items.append(SDESItem(type: t, text: String(decoding: b[(i + 2)..<(i + 2 + len)], as: UTF8.self)))
                    i += 2 + len
                }
                if i > end { throw RTPError(offset: end, reason: "SDES chunk padding runs past the packet") }
                chunks.append(SDESChunk(ssrc: ssrc, items: items))
            }
            return .sourceDescription(chunks)
        case typeBYE:
            var ssrcs: [UInt32] = []
            for _ in 0..<Int(count) {
                try need(4, "BYE SSRC")
                ssrcs.append(readU32(b, i))
                i += 4
            }
            var reason: String? = nil
            if i < end {
                let len = Int(b[i])
                guard i + 1 + len <= end else { throw RTPError(offset: i, reason: "BYE reason of \(len) bytes runs past the packet") }
                reason = String(decoding: b[(i + 1)..<(i + 1 + len)], as: UTF8.self)
            }
            return .goodbye(Goodbye(ssrcs: ssrcs, reason: reason))
        case typeRTPFB where count == 1:
            try need(8, "feedback SSRCs")
            let sender = readU32(b, i), media = readU32(b, i + 4)
            i += 8
            var lost: [UInt16] = []
            while i + 4 <= end {
                let pid = readU16(b, i)
                let blp = readU16(b, i + 2)
                lost.append(pid)
                for bit in 0..<16 where blp & (1 << bit) != 0 {
                    lost.append(pid &+ UInt16(bit + 1))
                }
                i += 4
            }
            return .nack(GenericNACK(senderSSRC: sender, mediaSSRC: media, lost: lost))
        case typeRTPFB where count == 15:
            try need(8, "feedback SSRCs")
            return .transportFeedback(try TransportFeedback.parseBody(b, start: i + 8, end: end, senderSSRC: readU32(b, i),
                                                                      mediaSSRC: readU32(b, i + 4)))
        case typePSFB where count == 1:
            try need(8, "feedback SSRCs")
            return .pictureLossIndication(senderSSRC: readU32(b, i), mediaSSRC: readU32(b, i + 4))
        case typePSFB where count == 4:
            try need(8, "feedback SSRCs")
            let sender = readU32(b, i)
            i += 8
            var entries: [FIREntry] = []
            while i + 8 <= end {
                entries.append(FIREntry(ssrc: readU32(b, i), sequenceNumber: b[i + 4]))
                i += 8
            }
            return .fullIntraRequest(FIR(senderSSRC: sender, entries: entries))
        case typePSFB where count == 15:
            try need(8, "feedback SSRCs")
            let sender = readU32(b, i)
            i += 8
            // Application layer feedback: only REMB is decoded.
            guard i + 8 <= end, b[i] == 0x52, b[i + 1] == 0x45, b[i + 2] == 0x4D, b[i + 3] == 0x42 else {
                return .unknown(packetType: type, count: count)
            }
            let num = Int(b[i + 4])
            let exp = UInt64(b[i + 5] >> 2)
            let mantissa = UInt64(readU24(b, i + 5) & 0x3FFFF)
            i += 8
            try need(4 * num, "REMB SSRC list")
            var ssrcs: [UInt32] = []
            for _ in 0..<num {
                ssrcs.append(readU32(b, i))
                i += 4
            }
            // Saturate rather than overflow for absurd exponents.
            let bitrate = exp > 46 ? (mantissa == 0 ? 0 : UInt64.max) : mantissa << exp
            return .remb(REMB(senderSSRC: sender, bitrate: bitrate, ssrcs: ssrcs))
        default:
            return .unknown(packetType: type, count: count)
        }
    }

    /// Serializes packets into one compound packet. `.unknown` entries are skipped (they carry no body).
    public static func serialize(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        for p in packets { append(p, to: &out) }
        return out
    }

    private static func appendReports(_ r: [ReceptionReport], to out: inout [UInt8]) {
        for rb in r {
            out.appendU32(rb.ssrc)
            out.append(rb.fractionLost)
            let clamped = max(min(rb.cumulativeLost, 0x7F_FFFF), -0x80_0000)
            out.appendU24(UInt32(bitPattern: clamped) & 0xFF_FFFF)
            out.appendU32(rb.highestSequence)
            out.appendU32(rb.jitter)
            out.appendU32(rb.lastSenderReport)
            out.appendU32(rb.delaySinceLastSenderReport)
        }
    }

    /// Writes a header placeholder, the body via `body`, pads to 32 bits and patches the length.
    private static func packet(_ count: UInt8, _ type: UInt8, _ out: inout [UInt8], _ body: (inout [UInt8]) -> Void) {
        let start = out.count
        out.append(0x80 | (count & 0x1F))
        out.append(type)
        out.append(0); out.append(0)
        body(&out)
        while (out.count - start) % 4 != 0 { out.append(0) }
        let words = (out.count - start) / 4 - 1
        out[start + 2] = UInt8(truncatingIfNeeded: words >> 8)
        out[start + 3] = UInt8(truncatingIfNeeded: words)
    }

    private static func append(_ p: RTCPPacket, to out: inout [UInt8]) {
        switch p {
        case .senderReport(let sr):
            let r = sr.reports.prefix(31)
            packet(UInt8(r.count), typeSR, &out) { o in
                o.appendU32(sr.ssrc); o.appendU64(sr.ntpTimestamp); o.appendU32(sr.rtpTimestamp)
                o.appendU32(sr.packetCount); o.appendU32(sr.octetCount)
                appendReports(Array(r), to: &o)
            }
        case .receiverReport(let rr):
            let r = rr.reports.prefix(31)
            packet(UInt8(r.count), typeRR, &out) { o in
                o.appendU32(rr.ssrc)
                appendReports(Array(r), to: &o)
            }
        case .sourceDescription(let chunks):
            let c = chunks.prefix(31)
            packet(UInt8(c.count), typeSDES, &out) { o in
                for chunk in c {
                    let chunkStart = o.count
                    o.appendU32(chunk.ssrc)
                    for item in chunk.items where item.type != 0 {
                        let text = Array(item.text.utf8.prefix(255))
                        o.append(item.type); o.append(UInt8(text.count)); o.append(contentsOf: text)
                    }
                    o.append(0) // end of items; then pad to 32 bits with more zeros
                    while (o.count - chunkStart) % 4 != 0 { o.append(0) }
                }
            }
        case .goodbye(let bye):
            let s = bye.ssrcs.prefix(31)
            packet(UInt8(s.count), typeBYE, &out) { o in
                for x in s { o.appendU32(x) }
                if let reason = bye.reason {
                    let text = Array(reason.utf8.prefix(255))
                    o.append(UInt8(text.count)); o.append(contentsOf: text)
                }
            }
        case .nack(let nack):
            packet(1, typeRTPFB, &out) { o in
                o.appendU32(nack.senderSSRC); o.appendU32(nack.mediaSSRC)
                // Group each seq with up to 16 following ones (mod 2^16) into one PID/BLP pair.
                var pending = nack.lost
                while let pid = pending.first {
                    var blp: UInt16 = 0
                    var rest: [UInt16] = []
                    for s in pending.dropFirst() {
                        let d = s &- pid
                        if d == 0 { continue }
                        if d <= 16 { blp |= 1 << (d - 1) } else { rest.append(s) }
                    }
                    o.appendU16(pid); o.appendU16(blp)
                    pending = rest
                }
            }
        case .pictureLossIndication(let sender, let media):
            packet(1, typePSFB, &out) { o in o.appendU32(sender); o.appendU32(media) }
        case .fullIntraRequest(let fir):
            packet(4, typePSFB, &out) { o in
                o.appendU32(fir.senderSSRC); o.appendU32(0)
                for e in fir.entries { o.appendU32(e.ssrc); o.append(e.sequenceNumber); o.appendU24(0) }
            }
        case .remb(let remb):
            packet(15, typePSFB, &out) { o in
                o.appendU32(remb.senderSSRC); o.appendU32(0)
                o.append(contentsOf: [0x52, 0x45, 0x4D, 0x42])
                let s = remb.ssrcs.prefix(255)
                o.append(UInt8(s.count))
                var mantissa = remb.bitrate
                var exp: UInt32 = 0
                while mantissa > 0x3FFFF { mantissa >>= 1; exp += 1 }
                o.appendU24(min(exp, 63) << 18 | UInt32(mantissa))
                for x in s { o.appendU32(x) }
            }
        case .transportFeedback(let feedback):
            // Padded as RFC 3550 §6.4.1 says (P bit, the last byte counts the padding), as libwebrtc writes it.
            let start = out.count
            var bodyEnd = start
            packet(15, typeRTPFB, &out) { o in
                o.appendU32(feedback.senderSSRC); o.appendU32(feedback.mediaSSRC)
                feedback.appendBody(to: &o)
                bodyEnd = o.count
            }
            if out.count > bodyEnd {
                out[start] |= 0x20
                out[out.count - 1] = UInt8(out.count - bodyEnd)
            }
        case .unknown:
            break
        }
    }
}
