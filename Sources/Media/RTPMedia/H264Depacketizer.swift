import RTP

/// RFC 6184 H.264 depacketizer, packetization modes 0 and 1: single NAL unit packets, STAP-A and FU-A.
/// STAP-B, MTAP16/24 and FU-B (interleaved mode 2, which WebRTC never negotiates) are skipped and counted
/// in `packetsUnsupported` (and `stats.packetsInvalid`); the access unit they belonged to is dropped.
///
/// A frame is one access unit: every NAL unit with one RTP timestamp, ended by the marker bit or a timestamp
/// change, returned as an Annex B byte stream (4-byte start codes), which libavcodec's h264 decoder takes.
/// A keyframe is an access unit with an IDR slice; the last SPS and PPS seen are put in front of an IDR access
/// unit that lacks them, and the size on a keyframe comes from the SPS.
///
/// Losses as in `VP8Depacketizer`: a frame with a missing packet is never returned, and after a loss frames
/// are held back until the next IDR. H.264 has no frame-start flag, so the first frame after a loss is only
/// trusted when its first slice starts at macroblock 0 (`first_mb_in_slice == 0`).
public struct H264Depacketizer: Depacketizer {
    public private(set) var stats = DepacketizerStats()
    public private(set) var needsKeyframe = true
    /// STAP-B, MTAP16, MTAP24 and FU-B packets skipped (also counted in `stats.packetsInvalid`).
    public private(set) var packetsUnsupported = 0
    /// IDR access units dropped because no SPS/PPS was in them or seen before (also in `framesDroppedIncomplete`).
    public private(set) var keyframesWithoutParameterSets = 0

    /// The last SPS and PPS NAL units seen (header byte included, no start code).
    public private(set) var lastSPS: [UInt8]?
    public private(set) var lastPPS: [UInt8]?
    /// Size stated by `lastSPS`, when it parsed.
    private var lastSPSSize: (width: Int, height: Int)?

    // The access unit being assembled.
    private var inFrame = false
    private var broken = false
    private var frameTimestamp: Int64 = 0
    private var frameArrival: Int64 = 0
    private var data: [UInt8] = []
    /// End of the leading access unit delimiter in `data` (parameter sets are inserted after it), else 0.
    private var prefixEnd = 0
    private var hasSPS = false
    private var hasPPS = false
    private var hasIDR = false
    private var hasVCL = false
    /// The first slice must show it starts at macroblock 0 (set when a loss preceded the frame).
    private var startUncertain = false
    /// A loss happened since the last frame started: the next frame's beginning may be missing.
    private var lossSinceFrameStart = false

    // The FU-A being reassembled (reconstructed NAL header first).
    private var fuActive = false
    private var fu: [UInt8] = []

    private var continuity = SequenceContinuity()

    public init() {}

    public mutating func push(_ packet: OrderedPacket) -> [EncodedFrame] {
        var out: [EncodedFrame] = []
        if !continuity.follows(packet.sequence) { lossOccurred() }
        if inFrame && packet.timestamp != frameTimestamp {
            finish(&out) // the marker was not seen, but nothing was missing in between
        }
        if !inFrame { startFrame(packet) }
        if !parse(packet.packet.payload) {
            stats.packetsInvalid += 1
            broken = true
            needsKeyframe = true
        }
        if packet.packet.marker { finish(&out) }
        return out
    }

    public mutating func lost(firstSequence: Int64, count: Int) -> [EncodedFrame] {
        guard count > 0 else { return [] }
        lossOccurred()
        continuity.skip(firstSequence: firstSequence, count: count)
        return []
    }

    public mutating func flush() -> [EncodedFrame] {
        if inFrame {
            // Without the marker we cannot know the access unit is whole.
            stats.framesDroppedIncomplete += 1
            inFrame = false
            resetFrame()
        }
        return []
    }

    // MARK: packets

    /// Adds the NAL units of one payload to the frame; false when the payload is malformed or unsupported.
    private mutating func parse(_ payload: ArraySlice<UInt8>) -> Bool {
        guard let header = payload.first, header & 0x80 == 0 else { return false } // forbidden_zero_bit
        let type = header & 0x1F
        switch type {
        case 1...23:
            if fuActive { return false } // the FU-A's end never came
            return addNAL(payload)
        case H264NALType.stapA:
            if fuActive { return false }
            var i = payload.startIndex + 1
            var units: [Range<Int>] = []
            while i < payload.endIndex {
                guard i + 2 <= payload.endIndex else { return false }
                let size = Int(payload[i]) << 8 | Int(payload[i + 1])
                i += 2
                guard size > 0, i + size <= payload.endIndex else { return false }
                units.append(i..<(i + size))
                i += size
            }
            guard !units.isEmpty else { return false }
            for u in units {
                guard addNAL(payload[u]) else { return false }
            }
            return true
        case H264NALType.fuA:
            guard payload.count > 2 else { return false }
            let fuHeader = payload[payload.startIndex + 1]
            let start = fuHeader & 0x80 != 0
            let end = fuHeader & 0x40 != 0
            let nalType = fuHeader & 0x1F
            guard nalType >= 1 && nalType <= 23 else { return false }
            let nalHeader = (header & 0xE0) | nalType
            if start {
                if fuActive { return false }
                fuActive = true
                fu.removeAll(keepingCapacity: true)
                fu.append(nalHeader)
            } else {
                // A middle or end fragment without its start (or of another NAL unit) cannot be used.
                guard fuActive, fu.first == nalHeader else { fuActive = false; return false }
            }
            fu.append(contentsOf: payload.dropFirst(2))
            if end {
                fuActive = false
                return addNAL(fu[...])
            }
            return true
        case H264NALType.stapB, H264NALType.mtap16, H264NALType.mtap24, H264NALType.fuB:
            packetsUnsupported += 1
            return false
        default:
            return false // 0, 30, 31: undefined
        }
    }

    /// Appends one complete NAL unit to the access unit.
    private mutating func addNAL(_ nal: ArraySlice<UInt8>) -> Bool {
        guard let header = nal.first, header & 0x80 == 0 else { return false }
        let type = header & 0x1F
        guard type >= 1 && type <= 23 else { return false }
        switch type {
        case H264NALType.sps:
            lastSPS = Array(nal)
            if let sps = H264SPS(nal: nal) { lastSPSSize = (sps.width, sps.height) } else { lastSPSSize = nil }
            hasSPS = true
        case H264NALType.pps:
            lastPPS = Array(nal)
            hasPPS = true
        case H264NALType.idrSlice:
            hasIDR = true
        default:
            break
        }
        if H264NALType.isVCL(type) {
            if !hasVCL && startUncertain && !Self.startsAtFirstMacroblock(nal) { broken = true }
            hasVCL = true
        }
        data += AnnexB.startCode
        data += nal
        if type == H264NALType.accessUnitDelimiter && prefixEnd == 0 && data.count == AnnexB.startCode.count + nal.count {
            prefixEnd = data.count
        }
        return true
    }

    /// True when a slice NAL unit's `first_mb_in_slice` (the first ue(v) after the header) is 0, i.e. its first bit is 1.
    static func startsAtFirstMacroblock(_ nal: ArraySlice<UInt8>) -> Bool {
        guard nal.count >= 2 else { return false }
        return nal[nal.startIndex + 1] & 0x80 != 0
    }

    // MARK: frames

    private mutating func lossOccurred() {
        if inFrame { broken = true }
        lossSinceFrameStart = true
        needsKeyframe = true
    }

    private mutating func startFrame(_ p: OrderedPacket) {
        inFrame = true
        resetFrame()
        frameTimestamp = p.timestamp
        frameArrival = p.arrivalMicros
        startUncertain = lossSinceFrameStart
        lossSinceFrameStart = false
    }

    private mutating func resetFrame() {
        broken = false
        data.removeAll(keepingCapacity: true)
        prefixEnd = 0
        hasSPS = false
        hasPPS = false
        hasIDR = false
        hasVCL = false
        fuActive = false
        fu.removeAll(keepingCapacity: true)
    }

    private mutating func finish(_ out: inout [EncodedFrame]) {
        guard inFrame else { return }
        inFrame = false
        defer { resetFrame() }
        if broken || fuActive {
            stats.framesDroppedIncomplete += 1
            needsKeyframe = true
            return
        }
        // Parameter sets (or SEI) alone are no picture: they are remembered for the next IDR.
        guard hasVCL else { return }
        if needsKeyframe && !hasIDR {
            stats.framesDroppedWaitingForKeyframe += 1
            return
        }
        if hasIDR && !(hasSPS && hasPPS) {
            guard let sps = lastSPS, let pps = lastPPS else {
                stats.framesDroppedIncomplete += 1
                keyframesWithoutParameterSets += 1
                needsKeyframe = true
                return
            }
            var params: [UInt8] = []
            if !hasSPS { params += AnnexB.startCode; params += sps }
            if !hasPPS { params += AnnexB.startCode; params += pps }
            data.insert(contentsOf: params, at: prefixEnd)
        }
        needsKeyframe = false
        stats.frames += 1
        if hasIDR { stats.keyframes += 1 }
        let size = hasIDR ? lastSPSSize : nil
        out.append(EncodedFrame(codec: .h264, data: data, rtpTimestamp: frameTimestamp, arrivalMicros: frameArrival,
                                isKeyframe: hasIDR, width: size?.width, height: size?.height))
    }
}
