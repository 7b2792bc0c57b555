import Ingest
import Media

/// Holds each newcomer's first frames until its streams' timing is known, so that the outputs made
/// while recording place them as `transcode` of the capture would: by the senders' clocks (the
/// first RTCP Sender Report of each stream: lip sync as sent) and by the least-delayed packet seen
/// rather than by the first packet's jitter.
///
/// A participant is released once every stream it has has a Sender Report and it has both audio
/// and video, or ``holdMicros`` after its first packet, whichever comes first; its held frames then
/// go on in their order. Streams that start later are not held: what is known of them by their
/// first frame is used. Sans-IO: the worker applies the steps it returns.
struct StreamTiming {
    /// How long a newcomer's frames are held at most (senders report every second or so).
    static let holdMicros: Int64 = 1_500_000

    /// What to pass on to the outputs.
    enum Step {
        /// A stream's timing as now known (``RoomOutputs/updateTiming(_:)``).
        case timing(StreamInfo)
        case frame(RoomFrame)
    }

    private var streams: [StreamKey: StreamInfo] = [:]
    private var streamsOf: [String: [StreamKey]] = [:]
    private var delays: [StreamKey: MinimumDelay] = [:]
    private var reports: [StreamKey: ClockMapping] = [:]
    private var holds: [String: (since: Int64, frames: [RoomFrame])] = [:]
    private var released: Set<String> = []

    /// A stream's first packet: returns it with what is known already (a Sender Report that came first).
    mutating func declare(_ stream: StreamInfo) -> StreamInfo {
        var info = stream
        info.senderReport = reports[stream.key]
        streams[info.key] = info
        streamsOf[info.participant, default: []].append(info.key)
        if !released.contains(info.participant) {
            delays[info.key] = MinimumDelay()
            if holds[info.participant] == nil { holds[info.participant] = (stream.firstArrivalMicros, []) }
        }
        return info
    }

    /// One RTP packet of a declared stream (its timestamp and arrival) while its participant is held.
    mutating func observe(_ key: StreamKey, timestamp: UInt32, arrivalMicros: Int64) {
        delays[key]?.add(timestamp: timestamp, arrivalMicros: arrivalMicros)
    }

    /// A Sender Report for `key` (only the first of each stream counts, as in `transcode`).
    mutating func senderReport(_ key: StreamKey, _ mapping: ClockMapping) -> [Step] {
        guard reports[key] == nil else { return [] }
        reports[key] = mapping
        guard var info = streams[key] else { return [] }
        info.senderReport = mapping
        streams[key] = info
        return holds[info.participant] == nil ? [.timing(info)] : []
    }

    /// A frame: passed on, or held with its participant's.
    mutating func frame(_ frame: RoomFrame) -> [Step] {
        guard let name = streams[frame.stream]?.participant, holds[name] != nil else { return [.frame(frame)] }
        holds[name]!.frames.append(frame)
        return []
    }

    /// The participants whose timing is now known, or whose hold is over at `now` (all of them
    /// with `everyone`, at the end): their streams' timing, then their frames.
    mutating func release(now: Int64, everyone: Bool = false) -> [Step] {
        var steps: [Step] = []
        for name in holds.keys.sorted() where everyone || isReady(name, now: now) {
            let hold = holds.removeValue(forKey: name)!
            released.insert(name)
            for key in streamsOf[name] ?? [] {
                guard var info = streams[key] else { continue }
                if let codec = info.codec { info.arrivalMapping = delays.removeValue(forKey: key)?.mapping(clockRate: codec.clockRate) }
                streams[key] = info
                steps.append(.timing(info))
            }
            steps += hold.frames.map(Step.frame)
        }
        return steps
    }

    private func isReady(_ name: String, now: Int64) -> Bool {
        guard let hold = holds[name] else { return false }
        if now - hold.since >= Self.holdMicros { return true }
        let keys = streamsOf[name] ?? []
        let kinds = Set(keys.compactMap { streams[$0]?.codec?.kind })
        return kinds.count == 2 && keys.allSatisfy { reports[$0] != nil }
    }
}
