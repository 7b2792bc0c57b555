/// Module `Live`: recording live peers. Each WHIP publisher gets one UDP socket driven by a
/// SwiftNIO event loop, a sans-IO ``PeerConnection`` on that loop, and a raw capture file that
/// every decrypted packet goes to (flushed every second, so a crash loses at most a second).
/// When the recording stops, the captures are turned into the composite and per-participant
/// WebM by the same pipeline as `flowrec transcode`, and a JSON manifest is written.
import Foundation

/// Microseconds on the monotonic clock (for protocol timers) and on the wall clock (for captures).
enum LiveClock {
    static func monotonicMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }

    static func wallMicros() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
    }
}

/// A clock its owner sets, read from any thread: the capture clock of a run faster than real time
/// (a replay, the soak), handed to ``LiveOutputs`` as `{ clock.micros }`.
public final class SettableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64

    public init(micros: Int64 = 0) { value = micros }

    /// The time now, µs.
    public var micros: Int64 {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
