/// Module `Ingest`: turns capture files into a room — participants, their streams and codecs —
/// and then into ordered, complete encoded frames.
///
/// Two passes over the same inputs, both in constant memory and both one thread per input:
/// 1. ``RoomScanner`` reads packet headers only: which SSRCs exist, their codec (from the
///    `.mjr` header, `--sdp`, `--pt` or by sniffing the payload), which participant each belongs
///    to (Janus file name, `--participant`, RTCP CNAME, UDP flow or SSRC), and RTCP Sender
///    Reports for timing. The result is a ``RoomInventory``.
/// 2. ``FrameReader`` replays each input through a reorder buffer and a depacketizer per stream
///    and yields ``RoomFrame``s merged across inputs in arrival order.
import Capture
import Media
import RTP
import SDP

/// An ingest failure that is not a capture-format error: options that contradict the inputs.
public struct IngestError: Error, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Caller's hints about the inputs.
public struct IngestOptions: Sendable {
    /// Codec per RTP payload type (`--pt 111=opus,96=vp8`), taking precedence over sniffing.
    public var payloadTypes: [UInt8: Codec]
    /// An SDP whose rtpmap lines give codecs per payload type and whose `a=ssrc ... cname:` lines group SSRCs.
    public var sdp: SessionDescription?
    /// Explicit participant per input file (`--participant FILE=NAME`), matched by path or file name.
    public var participantByFile: [String: String]
    /// Reorder buffer bound in packets.
    public var reorderPackets: Int
    /// Reorder buffer bound in time, microseconds.
    public var reorderMicros: Int64

    public init(payloadTypes: [UInt8: Codec] = [:], sdp: SessionDescription? = nil,
                participantByFile: [String: String] = [:], reorderPackets: Int = 512, reorderMicros: Int64 = 500_000) {
        self.payloadTypes = payloadTypes
        self.sdp = sdp
        self.participantByFile = participantByFile
        self.reorderPackets = reorderPackets
        self.reorderMicros = reorderMicros
    }

    /// Codecs named by the SDP's rtpmap lines (opus, VP8, VP9, H264), by payload type.
    var sdpPayloadTypes: [UInt8: Codec] {
        var map: [UInt8: Codec] = [:]
        for section in sdp?.media ?? [] {
            for format in section.payloadFormats {
                if let codec = Codec(encodingName: format.encodingName) { map[format.payloadType] = codec }
            }
        }
        return map
    }

    /// RTX and other repair payload types named by the SDP, which carry no media of their own.
    var sdpRepairPayloadTypes: Set<UInt8> {
        var set: Set<UInt8> = []
        for section in sdp?.media ?? [] {
            for format in section.payloadFormats where ["rtx", "red", "ulpfec", "flexfec-03"].contains(format.encodingName.lowercased()) {
                set.insert(format.payloadType)
            }
        }
        return set
    }

    /// CNAMEs announced by the SDP, by SSRC.
    var sdpCNames: [UInt32: String] {
        var map: [UInt32: String] = [:]
        for section in sdp?.media ?? [] {
            for (ssrc, cname) in section.ssrcs { if let cname { map[ssrc] = cname } }
        }
        return map
    }
}
