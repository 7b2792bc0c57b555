import Media
import RTP
import Synth

/// A few seconds of each synthetic participant's media (Opus 20 ms, VP8 with a keyframe at the
/// start, sender reports every second), encoded once by ``SynthGenerator`` and sent again and
/// again: a sender as cheap as copying bytes, whose streams run on for any length.
struct LoopedMedia {
    /// One packet of the loop: when it is sent after the loop's start, and its clear bytes.
    struct Item {
        var offsetMicros: Int64
        var kind: MediaKind
        var isRTCP: Bool
        var bytes: [UInt8]
    }

    let periodMicros: Int64
    /// Each participant's packets in send order.
    let items: [[Item]]
    /// The same packets but with the first participant's keyframes declaring another picture size
    /// (``SoakOptions/declaredPicture``); nil when not asked for.
    let declaringItems: [[Item]]?

    /// Encodes `seconds` (a whole number, a multiple of the keyframe interval) of `participants`
    /// senders at `width`×`height`, `fps`, with one keyframe at the start of each loop.
    /// With `declaring`, ``declaringItems`` holds the loop again with the first participant's keyframe
    /// headers declaring that size (the picture data is the same).
    init(participants: Int, seconds: Int, width: Int, height: Int, fps: Int, videoKbps: Int, declaring: PictureSize? = nil) throws {
        var options = SynthOptions()
        options.participants = participants
        options.seconds = Double(seconds)
        options.width = width
        options.height = height
        options.fps = fps
        options.videoBitrateKbps = videoKbps
        options.keyframeInterval = seconds * fps
        func encode(_ options: SynthOptions) throws -> [[Item]] {
            let sink = CollectingSink(participants: participants, startMicros: options.startMicros)
            try SynthGenerator(options: options).run(into: sink)
            return sink.items
        }
        periodMicros = Int64(seconds) * 1_000_000
        items = try encode(options)
        if let declaring {
            options.declaredSize[0] = (0, declaring)
            declaringItems = try encode(options)
        } else {
            declaringItems = nil
        }
    }

    /// Sends one participant's loop as the streams of a publisher.
    struct Cursor {
        let participant: Int
        let audioSSRC: UInt32
        let videoSSRC: UInt32
        /// When the first loop started (µs on the driver's clock).
        let startMicros: Int64
        /// Loops starting at or after this time (driver's clock) send ``LoopedMedia/declaringItems``.
        let declaringFromMicros: Int64?
        private(set) var loop = 0
        private(set) var index = 0
        private var counts: [MediaKind: (packets: UInt32, octets: UInt32)] = [:]
        /// Per loop: how far each stream's sequence numbers and timestamps move (by kind).
        private let sequenceStep: [MediaKind: UInt16]
        private let timestampStep: [MediaKind: UInt32]

        init(media: LoopedMedia, participant: Int, audioSSRC: UInt32, videoSSRC: UInt32, startMicros: Int64,
             declaringFromMicros: Int64? = nil) {
            self.participant = participant
            self.declaringFromMicros = media.declaringItems == nil ? nil : declaringFromMicros
            self.audioSSRC = audioSSRC
            self.videoSSRC = videoSSRC
            self.startMicros = startMicros
            let rtp = media.items[participant].filter { !$0.isRTCP }
            sequenceStep = [.audio: UInt16(truncatingIfNeeded: rtp.count { $0.kind == .audio }),
                            .video: UInt16(truncatingIfNeeded: rtp.count { $0.kind == .video })]
            timestampStep = [.audio: UInt32(media.periodMicros * 48 / 1000), .video: UInt32(media.periodMicros * 90 / 1000)]
        }

        /// When the next packet is due.
        func nextMicros(_ media: LoopedMedia) -> Int64 {
            startMicros + Int64(loop) * media.periodMicros + media.items[participant][index].offsetMicros
        }

        /// The next packet, made this loop's (SSRC, sequence number, timestamp; a sender report's
        /// clocks and counts), sent at `wallMicros` on the sender's NTP clock; then moves on.
        mutating func next(_ media: LoopedMedia, wallMicros: Int64) -> (bytes: [UInt8], isRTCP: Bool, kind: MediaKind) {
            let loopStart = startMicros + Int64(loop) * media.periodMicros
            let declaring = declaringFromMicros.map { loopStart >= $0 } ?? false
            let item = (declaring ? media.declaringItems! : media.items)[participant][index]
            let k = UInt32(loop)
            var bytes = item.bytes
            if item.isRTCP {
                bytes = rewriteReport(bytes, kind: item.kind, loop: k, wallMicros: wallMicros)
            } else {
                let sequence = (UInt16(bytes[2]) << 8 | UInt16(bytes[3])) &+ UInt16(truncatingIfNeeded: k) &* sequenceStep[item.kind]!
                let timestamp = readUInt32(bytes, 4) &+ k &* timestampStep[item.kind]!
                if loop > 0, item.kind == .audio { bytes[1] &= 0x7F }  // the talk spurt's marker only once
                writeUInt16(&bytes, 2, sequence)
                writeUInt32(&bytes, 4, timestamp)
                writeUInt32(&bytes, 8, item.kind == .audio ? audioSSRC : videoSSRC)
                let octets = UInt32(max(0, bytes.count - 12))
                let count = counts[item.kind] ?? (0, 0)
                counts[item.kind] = (count.packets &+ 1, count.octets &+ octets)
            }
            index += 1
            if index == media.items[participant].count {
                index = 0
                loop += 1
            }
            return (bytes, item.isRTCP, item.kind)
        }

        private func rewriteReport(_ bytes: [UInt8], kind: MediaKind, loop: UInt32, wallMicros: Int64) -> [UInt8] {
            guard let packets = try? RTCP.parseCompound(bytes) else { return bytes }
            let ssrc = kind == .audio ? audioSSRC : videoSSRC
            let count = counts[kind] ?? (0, 0)
            return RTCP.serialize(packets.map { packet in
                switch packet {
                case .senderReport(var report):
                    report.ssrc = ssrc
                    report.ntpTimestamp = NTPTime.ntp(fromUnixMicros: wallMicros)
                    report.rtpTimestamp &+= loop &* timestampStep[kind]!
                    report.packetCount = count.packets
                    report.octetCount = count.octets
                    return .senderReport(report)
                case .sourceDescription(let chunks):
                    return .sourceDescription(chunks.map { var chunk = $0; chunk.ssrc = ssrc; return chunk })
                default:
                    return packet
                }
            })
        }
    }
}

/// Keeps a synthetic room's packets in memory, by participant, as offsets from the room's start.
private final class CollectingSink: SynthSink {
    var items: [[LoopedMedia.Item]]
    let startMicros: Int64

    init(participants: Int, startMicros: Int64) {
        items = Array(repeating: [], count: participants)
        self.startMicros = startMicros
    }

    func write(_ packet: SynthPacket) throws {
        items[packet.participant].append(LoopedMedia.Item(offsetMicros: packet.arrivalMicros - startMicros, kind: packet.kind,
                                                          isRTCP: packet.isRTCP, bytes: packet.data))
    }

    func close() throws {}
}

private func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
    UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

private func writeUInt16(_ bytes: inout [UInt8], _ at: Int, _ value: UInt16) {
    bytes[at] = UInt8(value >> 8)
    bytes[at + 1] = UInt8(value & 0xFF)
}

private func writeUInt32(_ bytes: inout [UInt8], _ at: Int, _ value: UInt32) {
    for i in 0..<4 { bytes[at + i] = UInt8(value >> (24 - 8 * i) & 0xFF) }
}
