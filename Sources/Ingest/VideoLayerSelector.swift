import Media

/// Which of one participant's video streams is recorded, and how often its picture froze, sans-IO.
///
/// A participant usually sends one video stream, and every frame passes. A simulcast sender
/// (RFC 8853) sends the same camera as up to three streams of different sizes; a sender that
/// restarts sends a new stream after the old one. Only one of them goes on, so the participant's
/// file and tile never mix pictures:
/// - at the start, once every stream has sent a keyframe or ``startHoldMicros`` after the first
///   one, the largest stream that has sent a keyframe is chosen;
/// - a larger stream's keyframe switches to it at once (the sender raised or resumed a layer);
/// - a chosen stream with no complete frame for ``stallMicros`` (the sender paused it, or it
///   broke) gives way to the largest other stream still flowing whose latest keyframe came after
///   the chosen stream's last frame: its frames from that keyframe on are passed (they are kept
///   meanwhile, at most ``maxKept``), so nothing is shown twice and nothing broken is shown.
///
/// A freeze is a gap between two recorded video frames longer than three frame intervals and
/// 150 ms more than one, while the participant kept sending (audio, or another stream); the
/// switch decisions and freezes are reported (``summary``).
public struct VideoLayerSelector: Sendable {
    public static let stallMicros: Int64 = 500_000
    /// Longer than a live recording holds a newcomer's first frames for its Sender Reports (1.5 s).
    public static let startHoldMicros: Int64 = 1_600_000
    public static let maxKept = 150

    /// One video stream as the selector saw it.
    public struct Layer: Sendable, Equatable, Codable {
        public var ssrc: UInt32
        /// Picture size of its latest keyframe (nil before one came).
        public var width: Int?
        public var height: Int?
        public var frames = 0
    }

    /// From `atMicros` (capture clock) on, `ssrc` was recorded.
    public struct Switch: Sendable, Equatable {
        public var ssrc: UInt32
        public var atMicros: Int64
        public var width: Int?
        public var height: Int?
    }

    private struct State {
        var layer: Layer
        var lastArrival: Int64
        /// Frames since its latest keyframe, while it is not the one recorded.
        var kept: [RoomFrame] = []
        var pixels: Int { (layer.width ?? 0) * (layer.height ?? 0) }
    }

    private var states: [StreamKey: State] = [:]
    private var order: [StreamKey] = []
    public private(set) var selected: StreamKey?
    public private(set) var switches: [Switch] = []
    private var firstKeyframe: Int64?
    // Freezes.
    private var lastPassed: Int64?
    private var averageInterval: Double = 33_333
    private var activeInGap = false
    private var lastActivity: Int64 = .min
    public private(set) var freezes = 0
    public private(set) var longestFreezeMicros: Int64 = 0

    public init() {}

    /// Declares one of the participant's video streams (before or with its first frame).
    public mutating func addStream(_ key: StreamKey) {
        guard states[key] == nil else { return }
        states[key] = State(layer: Layer(ssrc: key.ssrc), lastArrival: .min)
        order.append(key)
        // The stream that was passing alone so far stays chosen until the rules say otherwise.
        if selected == nil, order.count == 2, lastPassed != nil { selected = order[0] }
    }

    /// Something else of the participant arrived (an audio frame): it was still sending.
    public mutating func noteActivity(arrivalMicros: Int64) {
        lastActivity = max(lastActivity, arrivalMicros)
        if let last = lastPassed, arrivalMicros - last > freezeThreshold / 2 { activeInGap = true }
    }

    /// Takes one video frame of a declared stream; returns the frames to record now (none, this
    /// one, or a kept run of another stream starting at its keyframe).
    public mutating func add(_ frame: RoomFrame) -> [RoomFrame] {
        let key = frame.stream
        if states[key] == nil { addStream(key) }
        let arrival = frame.frame.arrivalMicros
        states[key]!.lastArrival = arrival
        states[key]!.layer.frames += 1
        if frame.frame.isKeyframe {
            if let width = frame.frame.width, let height = frame.frame.height {
                states[key]!.layer.width = width
                states[key]!.layer.height = height
            }
            firstKeyframe = firstKeyframe ?? arrival
        }
        guard order.count > 1 else { return pass([frame]) }
        keep(frame)
        guard let current = selected else {
            // Every stream's keyframe, or the hold: a live recording may hand a stream's first frames
            // over late (they wait for its Sender Report), so arrival times alone cannot tell.
            let ready = candidates(after: .min)
            guard let first = firstKeyframe, let best = ready.first,
                  ready.count == order.count || arrival - first >= Self.startHoldMicros else { return [] }
            return choose(best, at: arrival)
        }
        if key == current {
            states[key]!.kept.removeAll()
            return pass([frame])
        }
        noteActivity(arrivalMicros: arrival)
        if frame.frame.isKeyframe, states[key]!.pixels > states[current]!.pixels {
            return choose(key, at: arrival)
        }
        let currentLast = states[current]!.lastArrival
        if arrival - currentLast > Self.stallMicros, let next = candidates(after: currentLast).first(where: { $0 != current }) {
            return choose(next, at: arrival)
        }
        return []
    }

    /// What the selector saw: every stream, the switches, the freezes (one more if the
    /// participant kept sending for a freeze's length after the last recorded frame).
    public var summary: (layers: [Layer], switches: [Switch], freezes: Int, longestFreezeMicros: Int64) {
        var count = freezes, longest = longestFreezeMicros
        if let last = lastPassed, lastActivity > last, lastActivity - last > freezeThreshold {
            count += 1
            longest = max(longest, lastActivity - last)
        }
        return (order.map { states[$0]!.layer }, switches, count, longest)
    }

    // MARK: - Internals

    private var freezeThreshold: Int64 { Int64(max(3 * averageInterval, averageInterval + 150_000)) }

    /// Streams flowing (a frame within ``stallMicros`` of the newest) whose kept run starts with a
    /// keyframe that arrived after `after`, largest first.
    private func candidates(after: Int64) -> [StreamKey] {
        let newest = states.values.map(\.lastArrival).max() ?? .min
        return order.filter { key in
            let state = states[key]!
            guard let first = state.kept.first, first.frame.isKeyframe, first.frame.arrivalMicros > after else { return false }
            return newest - state.lastArrival <= Self.stallMicros
        }.sorted { states[$0]!.pixels > states[$1]!.pixels }
    }

    /// Keeps a frame of a stream not (yet) recorded: a keyframe starts its run afresh; frames with
    /// no keyframe before them are of no use; a run too long is dropped (the next keyframe starts one).
    private mutating func keep(_ frame: RoomFrame) {
        let key = frame.stream
        if frame.frame.isKeyframe {
            states[key]!.kept = [frame]
        } else if !states[key]!.kept.isEmpty {
            states[key]!.kept.append(frame)
            if states[key]!.kept.count > Self.maxKept { states[key]!.kept.removeAll() }
        }
    }

    private mutating func choose(_ key: StreamKey, at arrival: Int64) -> [RoomFrame] {
        selected = key
        let layer = states[key]!.layer
        switches.append(Switch(ssrc: key.ssrc, atMicros: arrival, width: layer.width, height: layer.height))
        let run = states[key]!.kept
        states[key]!.kept.removeAll()
        return pass(run)
    }

    private mutating func pass(_ frames: [RoomFrame]) -> [RoomFrame] {
        for frame in frames {
            let arrival = frame.frame.arrivalMicros
            if let last = lastPassed, arrival > last {
                let gap = arrival - last
                if gap > freezeThreshold, activeInGap {
                    freezes += 1
                    longestFreezeMicros = max(longestFreezeMicros, gap)
                }
                averageInterval += (Double(min(gap, 100_000)) - averageInterval) / 16
            }
            lastPassed = max(lastPassed ?? .min, arrival)
            activeInGap = false
        }
        return frames
    }
}
