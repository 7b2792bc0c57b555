import RTP

/// A spatial layer resolution from a VP9 scalability structure.
public struct VP9Resolution: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public init(width: Int, height: Int) { self.width = width; self.height = height }
}

/// One picture-group entry of a VP9 scalability structure.
public struct VP9PictureGroupEntry: Sendable, Equatable {
    public var temporalID: UInt8
    public var switchingUp: Bool
    public var referenceDiffs: [UInt8]
    public init(temporalID: UInt8, switchingUp: Bool, referenceDiffs: [UInt8]) {
        self.temporalID = temporalID
        self.switchingUp = switchingUp
        self.referenceDiffs = referenceDiffs
    }
}

/// RFC 9628 §4.2.1 scalability structure (SS).
public struct VP9ScalabilityStructure: Sendable, Equatable {
    /// N_S + 1.
    public var spatialLayers: Int
    /// One per spatial layer when Y is set, else empty.
    public var resolutions: [VP9Resolution]
    /// Present when G is set.
    public var pictureGroup: [VP9PictureGroupEntry]?
    public init(spatialLayers: Int, resolutions: [VP9Resolution], pictureGroup: [VP9PictureGroupEntry]? = nil) {
        self.spatialLayers = spatialLayers
        self.resolutions = resolutions
        self.pictureGroup = pictureGroup
    }
}

/// The VP9 payload descriptor (RFC 9628 §4.2).
public struct VP9Descriptor: Sendable, Equatable {
    public var pictureID: UInt16?
    public var longPictureID: Bool
    /// P: inter-picture predicted (so P=0 on the base layer means a keyframe).
    public var interPicturePredicted: Bool
    /// F: flexible mode.
    public var flexibleMode: Bool
    /// B: first packet of a layer frame.
    public var beginsFrame: Bool
    /// E: last packet of a layer frame.
    public var endsFrame: Bool
    /// Z: not used for inter-layer prediction by upper spatial layers.
    public var notReferenceForUpperLayers: Bool
    /// Layer indices (L); 0 when absent.
    public var hasLayerIndices: Bool
    public var temporalID: UInt8
    public var switchingUp: Bool
    public var spatialID: UInt8
    /// D: depends on the spatial layer below.
    public var interLayerDependency: Bool
    /// Non-flexible mode with L.
    public var tl0PicIdx: UInt8?
    /// Flexible mode reference diffs (P_DIFF), up to 3.
    public var referenceDiffs: [UInt8]
    public var scalability: VP9ScalabilityStructure?
    /// Descriptor length; the VP9 data starts here.
    public var size: Int

    /// Parses the descriptor at the start of `payload`; nil when malformed, truncated or without VP9 data.
    public init?(parsing payload: ArraySlice<UInt8>) {
        var i = payload.startIndex
        let end = payload.endIndex
        guard i < end else { return nil }
        let b0 = payload[i]
        i += 1
        interPicturePredicted = b0 & 0x40 != 0
        hasLayerIndices = b0 & 0x20 != 0
        flexibleMode = b0 & 0x10 != 0
        beginsFrame = b0 & 0x08 != 0
        endsFrame = b0 & 0x04 != 0
        notReferenceForUpperLayers = b0 & 0x01 != 0
        pictureID = nil
        longPictureID = false
        temporalID = 0
        switchingUp = false
        spatialID = 0
        interLayerDependency = false
        tl0PicIdx = nil
        referenceDiffs = []
        scalability = nil
        if b0 & 0x80 != 0 {
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
        if hasLayerIndices {
            guard i < end else { return nil }
            let l = payload[i]
            i += 1
            temporalID = l >> 5
            switchingUp = l & 0x10 != 0
            spatialID = (l >> 1) & 0x07
            interLayerDependency = l & 0x01 != 0
            if !flexibleMode {
                guard i < end else { return nil }
                tl0PicIdx = payload[i]
                i += 1
            }
        }
        if flexibleMode && interPicturePredicted {
            var more = true
            while more {
                guard referenceDiffs.count < 3, i < end else { return nil }
                let p = payload[i]
                i += 1
                referenceDiffs.append(p >> 1)
                more = p & 0x01 != 0
            }
        }
        if b0 & 0x02 != 0 {
            guard i < end else { return nil }
            let s = payload[i]
            i += 1
            let layers = Int(s >> 5) + 1
            var resolutions: [VP9Resolution] = []
            if s & 0x10 != 0 {
                guard i + 4 * layers <= end else { return nil }
                for _ in 0..<layers {
                    resolutions.append(VP9Resolution(width: Int(payload[i]) << 8 | Int(payload[i + 1]),
                                                     height: Int(payload[i + 2]) << 8 | Int(payload[i + 3])))
                    i += 4
                }
            }
            var group: [VP9PictureGroupEntry]? = nil
            if s & 0x08 != 0 {
                guard i < end else { return nil }
                let ng = Int(payload[i])
                i += 1
                var entries: [VP9PictureGroupEntry] = []
                for _ in 0..<ng {
                    guard i < end else { return nil }
                    let g = payload[i]
                    i += 1
                    let r = Int(g >> 2) & 0x03
                    guard i + r <= end else { return nil }
                    entries.append(VP9PictureGroupEntry(temporalID: g >> 5, switchingUp: g & 0x10 != 0,
                                                        referenceDiffs: Array(payload[i..<(i + r)])))
                    i += r
                }
                group = entries
            }
            scalability = VP9ScalabilityStructure(spatialLayers: layers, resolutions: resolutions, pictureGroup: group)
        }
        guard i < end else { return nil }
        size = i - payload.startIndex
    }
}

/// What the start of a VP9 frame's uncompressed header says (VP9 bitstream spec §6.2).
public struct VP9FrameHeader: Sendable, Equatable {
    public var profile: Int
    public var showExistingFrame: Bool
    public var isKeyframe: Bool
    public var showFrame: Bool
    /// An intra-only frame: no reference, but not a keyframe (it may state a new size).
    public var intraOnly = false
    /// The frame size the header states: keyframes, intra-only frames, and inter frames that give
    /// their size instead of taking a reference's (`frame_size_with_refs` with no `found_ref`).
    /// Nil when the frame takes its size from a reference.
    public var width: Int?
    public var height: Int?
    /// Where `frame_width_minus_1` starts (bits from the frame's start) when the header states a size.
    package var sizeBitOffset: Int?

    /// Nil when the bytes are not a VP9 frame header (bad frame marker, sync code, or truncated).
    public init?(parsing data: ArraySlice<UInt8>) {
        var r = BitReader(data)
        guard r.read(2) == 2, let lo = r.read(1), let hi = r.read(1) else { return nil }
        profile = hi << 1 | lo
        if profile == 3 { guard r.read(1) == 0 else { return nil } }
        guard let sef = r.read(1) else { return nil }
        showExistingFrame = sef == 1
        width = nil
        height = nil
        if showExistingFrame {
            isKeyframe = false
            showFrame = true
            return
        }
        guard let ft = r.read(1), let sf = r.read(1), let errorResilient = r.read(1) else { return nil }
        isKeyframe = ft == 0
        showFrame = sf == 1
        if !isKeyframe {
            if !showFrame { guard let io = r.read(1) else { return nil }; intraOnly = io == 1 }
            if errorResilient == 0 { guard r.read(2) != nil else { return nil } }  // reset_frame_context
        }
        if isKeyframe || intraOnly {
            guard r.read(8) == 0x49, r.read(8) == 0x83, r.read(8) == 0x42 else { return nil }
            // An intra-only frame of profile 0 has no colour config (8-bit 4:2:0 implied).
            if isKeyframe || profile > 0 { guard Self.skipColourConfig(&r, profile: profile) else { return nil } }
            if intraOnly { guard r.read(8) != nil else { return nil } }              // refresh_frame_flags
        } else {
            guard r.read(8) != nil, r.read(3 * 4) != nil else { return nil }        // refresh flags; 3 × (ref idx, sign bias)
            for _ in 0..<3 {
                guard let foundRef = r.read(1) else { return nil }
                if foundRef == 1 { return }                                         // a reference's size
            }
        }
        sizeBitOffset = r.bit
        guard let w = r.read(16), let h = r.read(16) else { return nil }
        width = w + 1
        height = h + 1
    }

    /// `color_config()` (§6.2.2); false when truncated.
    private static func skipColourConfig(_ r: inout BitReader, profile: Int) -> Bool {
        if profile >= 2 { guard r.read(1) != nil else { return false } }
        guard let cs = r.read(3) else { return false }
        if cs != 7 {
            guard r.read(1) != nil else { return false }
            if profile == 1 || profile == 3 { guard r.read(3) != nil else { return false } }
        } else if profile == 1 || profile == 3 {
            guard r.read(1) != nil else { return false }
        }
        return true
    }
}

struct BitReader {
    let data: ArraySlice<UInt8>
    var bit = 0
    init(_ data: ArraySlice<UInt8>) { self.data = data }
    mutating func read(_ n: Int) -> Int? {
        guard bit + n <= data.count * 8 else { return nil }
        var v = 0
        for _ in 0..<n {
            let byte = data[data.startIndex + bit >> 3]
            v = v << 1 | Int((byte >> (7 - UInt8(bit & 7))) & 1)
            bit += 1
        }
        return v
    }
}

/// VP9 superframes (VP9 bitstream spec Annex B): several frames in one chunk, followed by an index.
public enum VP9Superframe {
    /// The frames of a superframe, or nil when `data` has no valid superframe index.
    public static func split(_ data: ArraySlice<UInt8>) -> [ArraySlice<UInt8>]? {
        guard let last = data.last, last & 0xE0 == 0xC0 else { return nil }
        let frames = Int(last & 0x07) + 1
        let mag = Int((last >> 3) & 0x03) + 1
        let indexSize = 2 + mag * frames
        guard data.count >= indexSize else { return nil }
        let indexStart = data.endIndex - indexSize
        guard data[indexStart] == last else { return nil }
        var out: [ArraySlice<UInt8>] = []
        var pos = data.startIndex
        var j = indexStart + 1
        for _ in 0..<frames {
            var size = 0
            for k in 0..<mag { size |= Int(data[j + k]) << (8 * k) }
            j += mag
            guard size > 0, pos + size <= indexStart else { return nil }
            out.append(data[pos..<(pos + size)])
            pos += size
        }
        return out
    }

    /// Builds a superframe from 2...8 frames (a single frame is returned as is). Nil for 0 or more than 8 frames.
    public static func make(_ frames: [ArraySlice<UInt8>]) -> [UInt8]? {
        guard !frames.isEmpty, frames.count <= 8, frames.allSatisfy({ !$0.isEmpty }) else { return nil }
        if frames.count == 1 { return Array(frames[0]) }
        let maxSize = frames.map(\.count).max()!
        var mag = 1
        while mag < 4 && maxSize >= 1 << (8 * mag) { mag += 1 }
        guard maxSize < 1 << (8 * mag) else { return nil }
        let marker = 0xC0 | UInt8(mag - 1) << 3 | UInt8(frames.count - 1)
        var out: [UInt8] = []
        out.reserveCapacity(frames.reduce(0) { $0 + $1.count } + 2 + mag * frames.count)
        for f in frames { out.append(contentsOf: f) }
        out.append(marker)
        for f in frames {
            for k in 0..<mag { out.append(UInt8(truncatingIfNeeded: f.count >> (8 * k))) }
        }
        out.append(marker)
        return out
    }
}

/// RFC 9628 VP9 depacketizer. A picture is every layer frame with one timestamp (ending with the marker bit);
/// each layer frame runs from B to E. Several layer frames become one superframe.
public struct VP9Depacketizer: Depacketizer {
    public private(set) var stats = DepacketizerStats()
    public private(set) var needsKeyframe = true
    /// The last scalability structure seen.
    public private(set) var scalability: VP9ScalabilityStructure?

    private var inPicture = false
    private var broken = false
    private var pictureTimestamp: Int64 = 0
    private var pictureArrival: Int64 = 0
    private var layerOpen = false
    private var current: [UInt8] = []
    private var layers: [[UInt8]] = []
    private var layerIDs: [UInt8] = []
    private var baseKeyHint = false
    private var pictureHadSS = false
    private var continuity = SequenceContinuity()

    public init() {}

    public mutating func push(_ packet: OrderedPacket) -> [EncodedFrame] {
        var out: [EncodedFrame] = []
        if !continuity.follows(packet.sequence) { lossOccurred() }
        if inPicture && packet.timestamp != pictureTimestamp {
            finish(&out)
        }
        guard let d = VP9Descriptor(parsing: packet.packet.payload) else {
            stats.packetsInvalid += 1
            lossOccurred()
            if !inPicture { start(packet, broken: true) }
            if packet.packet.marker { finish(&out) }
            return out
        }
        if !inPicture { start(packet, broken: !d.beginsFrame) }
        if let ss = d.scalability {
            scalability = ss
            pictureHadSS = true
        }
        if !broken {
            if d.beginsFrame {
                if layerOpen { broken = true } // previous layer frame never ended: its E packet is missing
                else {
                    layerOpen = true
                    current.removeAll(keepingCapacity: true)
                    if layers.isEmpty {
                        baseKeyHint = !d.interPicturePredicted && d.spatialID == 0
                    }
                    layerIDs.append(d.spatialID)
                }
            } else if !layerOpen {
                broken = true
            }
        }
        if !broken {
            current.append(contentsOf: packet.packet.payload.dropFirst(d.size))
            if d.endsFrame {
                layers.append(current)
                layerOpen = false
            }
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
        var out: [EncodedFrame] = []
        if inPicture {
            // A picture whose layer frames all ended is whole even without the marker.
            if !broken && !layerOpen && !layers.isEmpty { finish(&out) } else {
                stats.framesDroppedIncomplete += 1
                reset()
            }
        }
        return out
    }

    private mutating func lossOccurred() {
        if inPicture { broken = true }
        needsKeyframe = true
    }

    private mutating func reset() {
        inPicture = false
        broken = false
        layerOpen = false
        current.removeAll(keepingCapacity: true)
        layers.removeAll(keepingCapacity: true)
        layerIDs.removeAll(keepingCapacity: true)
        baseKeyHint = false
        pictureHadSS = false
    }

    private mutating func start(_ p: OrderedPacket, broken: Bool) {
        reset()
        inPicture = true
        self.broken = broken
        pictureTimestamp = p.timestamp
        pictureArrival = p.arrivalMicros
        if broken { needsKeyframe = true }
    }

    private mutating func finish(_ out: inout [EncodedFrame]) {
        guard inPicture else { return }
        defer { reset() }
        if broken || layerOpen || layers.isEmpty {
            stats.framesDroppedIncomplete += 1
            needsKeyframe = true
            return
        }
        // Flatten layer frames that are superframes themselves (e.g. a hidden ARF plus the shown frame).
        var parts: [ArraySlice<UInt8>] = []
        for layer in layers {
            if let sub = VP9Superframe.split(layer[...]) { parts.append(contentsOf: sub) } else { parts.append(layer[...]) }
        }
        // One layer frame passes through byte for byte; several become one superframe.
        guard let data = layers.count == 1 ? layers[0] : VP9Superframe.make(parts) else {
            stats.framesDroppedIncomplete += 1
            needsKeyframe = true
            return
        }
        let header = VP9FrameHeader(parsing: parts[0])
        // P=0 on the base layer, confirmed by the frame header when it parses.
        let isKey = baseKeyHint && (header.map(\.isKeyframe) ?? true)
        if needsKeyframe && !isKey {
            stats.framesDroppedWaitingForKeyframe += 1
            return
        }
        needsKeyframe = false
        var width: Int? = nil, height: Int? = nil
        if isKey || pictureHadSS {
            let top = Int(layerIDs.max() ?? 0)
            if let res = scalability?.resolutions, top < res.count, res[top].width > 0 {
                width = res[top].width
                height = res[top].height
            } else if isKey, let w = header?.width, let h = header?.height {
                width = w
                height = h
            }
        }
        stats.frames += 1
        if isKey { stats.keyframes += 1 }
        out.append(EncodedFrame(codec: .vp9, data: data, rtpTimestamp: pictureTimestamp, arrivalMicros: pictureArrival,
                                isKeyframe: isKey, width: width, height: height))
    }
}
