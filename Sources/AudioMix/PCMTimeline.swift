/// A per-participant PCM buffer indexed by room sample position (48 kHz, samples per channel),
/// bounded to `capacitySamples` positions.
///
/// A ring buffer holding positions `[base, base + capacity)`: reads return silence wherever nothing
/// was written (before `base`, never written, or beyond the window). Writing past the window's end
/// moves `base` forward, dropping the oldest data; so does `discard(before:)`. Writes before `base`
/// are ignored. A later write to the same position overwrites. The window starts at the first write
/// (or discard), so positions before that are never retained.
///
/// Invariant: every slot of the window not written since it entered the window is zero, so reads
/// need no bookkeeping beyond the window bounds.
///
/// Memory: the ring is allocated at the first write and let go by ``release()`` (a participant
/// that left), so a timeline that holds nothing costs nothing.
///
/// Not internally synchronised; one owner at a time (hence `@unchecked Sendable`).
public final class PCMTimeline: @unchecked Sendable {
    public let channels: Int
    public let capacitySamples: Int
    /// Empty until the first write (and again after ``release()``).
    private var ring: [Int16] = []
    /// Lowest position retained; nil until the first write or discard.
    private var base: Int64?
    public private(set) var writtenEnd: Int64 = 0

    public init(channels: Int = 1, capacitySamples: Int = 480_000) {
        precondition(channels >= 1, "PCMTimeline needs at least one channel")
        precondition(capacitySamples >= 1, "PCMTimeline needs a positive capacity")
        self.channels = channels
        self.capacitySamples = capacitySamples
    }

    /// The lowest position still held (reads before it are silence); nil before anything was written.
    public var retainedStart: Int64? { base }

    /// Ring slot (per-channel frame index) of a position.
    @inline(__always)
    private func slot(_ position: Int64) -> Int {
        let c = Int64(capacitySamples)
        return Int(((position % c) + c) % c)
    }

    /// Moves the window start to `newBase`, zeroing the slots that leave it (they come back as
    /// positions `capacity` later, never written).
    private func advance(to newBase: Int64) {
        guard let old = base else { base = newBase; return }
        guard newBase > old else { return }
        let count = Int(min(newBase - old, Int64(capacitySamples)))
        zeroSlots(from: old, count: count)
        base = newBase
    }

    private func zeroSlots(from position: Int64, count: Int) {
        guard !ring.isEmpty else { return }
        var done = 0
        ring.withUnsafeMutableBufferPointer { r in
            while done < count {
                let s = slot(position + Int64(done))
                let run = min(count - done, capacitySamples - s)
                (r.baseAddress! + s * channels).update(repeating: 0, count: run * channels)
                done += run
            }
        }
    }

    /// Writes interleaved `samples` starting at `position` (samples per channel). A trailing partial
    /// frame (count not a multiple of `channels`) is ignored.
    public func write(_ samples: [Int16], at position: Int64) {
        var frames = samples.count / channels
        guard frames > 0 else { return }
        var start = position
        var skip = 0  // frames of `samples` not written
        if base == nil { base = position }
        // Only the last `capacity` frames of an oversized block can be kept.
        if frames > capacitySamples {
            skip = frames - capacitySamples
            start += Int64(skip)
            frames = capacitySamples
        }
        let end = start + Int64(frames)
        if end > base! + Int64(capacitySamples) { advance(to: end - Int64(capacitySamples)) }
        if start < base! {
            let cut = Int(min(base! - start, Int64(frames)))
            skip += cut
            start += Int64(cut)
            frames -= cut
        }
        guard frames > 0 else { return }
        if ring.isEmpty { ring = [Int16](repeating: 0, count: capacitySamples * channels) }
        samples.withUnsafeBufferPointer { src in
            ring.withUnsafeMutableBufferPointer { r in
                var done = 0
                while done < frames {
                    let s = slot(start + Int64(done))
                    let run = min(frames - done, capacitySamples - s)
                    (r.baseAddress! + s * channels).update(from: src.baseAddress! + (skip + done) * channels,
                                                           count: run * channels)
                    done += run
                }
            }
        }
        writtenEnd = max(writtenEnd, end)
    }

    /// Reads `count` frames (samples per channel) from `position` into `buffer` (interleaved, at
    /// least `count × channels` long), zero-filling wherever nothing is held.
    public func read(from position: Int64, count: Int, into buffer: UnsafeMutableBufferPointer<Int16>) {
        guard count > 0 else { return }
        precondition(buffer.count >= count * channels, "PCMTimeline.read: buffer shorter than count × channels")
        let out = buffer.baseAddress!
        guard let base, !ring.isEmpty else {
            out.update(repeating: 0, count: count * channels)
            return
        }
        let windowEnd = base + Int64(capacitySamples)
        let end = position + Int64(count)
        // Clip [position, end) to the window; the rest is silence.
        let from = max(position, base), to = min(end, windowEnd)
        if from >= to {
            out.update(repeating: 0, count: count * channels)
            return
        }
        let lead = Int(from - position), tail = Int(end - to)
        if lead > 0 { out.update(repeating: 0, count: lead * channels) }
        if tail > 0 { (out + (count - tail) * channels).update(repeating: 0, count: tail * channels) }
        let frames = Int(to - from)
        ring.withUnsafeBufferPointer { r in
            var done = 0
            while done < frames {
                let s = slot(from + Int64(done))
                let run = min(frames - done, capacitySamples - s)
                (out + (lead + done) * channels).update(from: r.baseAddress! + s * channels, count: run * channels)
                done += run
            }
        }
    }

    /// Drops everything before `position`; reads there return silence from now on.
    public func discard(before position: Int64) {
        advance(to: position)
    }

    /// Lets go of the buffer and everything in it: reads return silence, and the next write starts
    /// a new window (as on a new timeline).
    public func release() {
        ring = []
        base = nil
    }

    /// Whether the ring is allocated (after a write, until ``release()``).
    public var holdsBuffer: Bool { !ring.isEmpty }
}
