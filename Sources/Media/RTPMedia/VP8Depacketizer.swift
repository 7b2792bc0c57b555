import RTP

/// The VP8 payload descriptor (RFC 7741 §4.2).
public struct VP8Descriptor: Sendable, Equatable {
    /// N: the frame is not used as a reference by any other frame.
    public var nonReference: Bool
    /// S: first packet of a VP8 partition.
    public var startOfPartition: Bool
    /// PID: partition index.
    public var partitionIndex: UInt8
    /// 7- or 15-bit PictureID when I is set.
    public var pictureID: UInt16?
    /// True when PictureID was sent in the 15-bit form.
    public var longPictureID: Bool
    public var tl0PicIdx: UInt8?
    public var temporalLayer: UInt8?
    public var layerSync: Bool
    public var keyIndex: UInt8?
    /// Descriptor length; the VP8 payload starts here.
    public var size: Int

    /// True on the first packet of a frame (S=1, PID=0).
    public var isFrameStart: Bool { startOfPartition && partitionIndex == 0 }

    /// Parses the descriptor at the start of `payload`; nil when truncated or when no VP8 data follows.
    public init?(parsing payload: ArraySlice<UInt8>) {
        var i = payload.startIndex
        let end = payload.endIndex
        guard i < end else { return nil }
        let b0 = payload[i]
        i += 1
        nonReference = b0 & 0x20 != 0
        startOfPartition = b0 & 0x10 != 0
        partitionIndex = b0 & 0x07
        pictureID = nil
        longPictureID = false
        tl0PicIdx = nil
        temporalLayer = nil
        layerSync = false
        keyIndex = nil
        if b0 & 0x80 != 0 {
            guard i < end else { return nil }
            let x = payload[i]
            i += 1
            if x & 0x80 != 0 {
                guard i < end else { return nil }
                let m = payload[i]
                if m & 0x80 != 0 {
                    guard i + 1 < end else { return nil }
                    pictureID = UInt16(m & 0x7F) << 8 | UInt16(payload[i + 1])
                    longPictureID = true
                    i += 2
                } else {
                    pictureID = UInt16(m)
                    i += 1
                }
            }
            if x & 0x40 != 0 {
                guard i < end else { return nil }
                tl0PicIdx = payload[i]
                i += 1
            }
            if x & 0x30 != 0 {
                guard i < end else { return nil }
                let t = payload[i]
                if x & 0x20 != 0 {
                    temporalLayer = t >> 6
                    layerSync = t & 0x20 != 0
                }
                if x & 0x10 != 0 { keyIndex = t & 0x1F }
                i += 1
            }
        }
        guard i < end else { return nil }
        size = i - payload.startIndex
    }
}

/// RFC 7741 VP8 depacketizer: a frame is the packets with one timestamp, from S=1/PID=0 to the marker bit
/// (or to a timestamp change). Keyframe and size come from the VP8 frame header (RFC 6386 §9.1).
public struct VP8Depacketizer: Depacketizer {
    public private(set) var stats = DepacketizerStats()
    public private(set) var needsKeyframe = true

    private var inFrame = false
    private var broken = false
    private var frameTimestamp: Int64 = 0
    private var frameArrival: Int64 = 0
    private var data: [UInt8] = []
    private var continuity = SequenceContinuity()

    public init() {}

    /// Keyframe facts from the start of a VP8 frame: nil for an interframe or a malformed keyframe header.
    public static func keyframeSize(_ frame: ArraySlice<UInt8>) -> (width: Int, height: Int)? {
        let s = frame.startIndex
        guard frame.count >= 10, frame[s] & 0x01 == 0,
              frame[s + 3] == 0x9D, frame[s + 4] == 0x01, frame[s + 5] == 0x2A else { return nil }
        let w = (Int(frame[s + 6]) | Int(frame[s + 7]) << 8) & 0x3FFF
        let h = (Int(frame[s + 8]) | Int(frame[s + 9]) << 8) & 0x3FFF
        return (w, h)
    }

    public mutating func push(_ packet: OrderedPacket) -> [EncodedFrame] {
        var out: [EncodedFrame] = []
        if !continuity.follows(packet.sequence) { lossOccurred() }
        if inFrame && packet.timestamp != frameTimestamp {
            finish(&out) // the frame's marker was not seen but nothing was missing in between
        }
        guard let d = VP8Descriptor(parsing: packet.packet.payload) else {
            stats.packetsInvalid += 1
            lossOccurred()
            if !inFrame { startFrame(packet, broken: true) }
            if packet.packet.marker { finish(&out) }
            return out
        }
        if inFrame && d.isFrameStart {
            finish(&out)
        }
        if !inFrame {
            startFrame(packet, broken: !d.isFrameStart)
        }
        if !broken {
            data.append(contentsOf: packet.packet.payload.dropFirst(d.size))
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
            // Without the marker we cannot know the frame is whole.
            stats.framesDroppedIncomplete += 1
            inFrame = false
            data.removeAll(keepingCapacity: true)
        }
        return []
    }

    private mutating func lossOccurred() {
        if inFrame { broken = true }
        needsKeyframe = true
    }

    private mutating func startFrame(_ p: OrderedPacket, broken: Bool) {
        inFrame = true
        self.broken = broken
        frameTimestamp = p.timestamp
        frameArrival = p.arrivalMicros
        data.removeAll(keepingCapacity: true)
        if broken { needsKeyframe = true }
    }

    private mutating func finish(_ out: inout [EncodedFrame]) {
        guard inFrame else { return }
        inFrame = false
        defer { data.removeAll(keepingCapacity: true) }
        if broken || data.isEmpty {
            stats.framesDroppedIncomplete += 1
            needsKeyframe = true
            return
        }
        let size = Self.keyframeSize(data[...])
        let isKey = size != nil
        if needsKeyframe && !isKey {
            stats.framesDroppedWaitingForKeyframe += 1
            return
        }
        needsKeyframe = false
        stats.frames += 1
        if isKey { stats.keyframes += 1 }
        out.append(EncodedFrame(codec: .vp8, data: data, rtpTimestamp: frameTimestamp, arrivalMicros: frameArrival,
                                isKeyframe: isKey, width: size?.width, height: size?.height))
    }
}
