/// The bitrate a receiver announces with REMB to a sender that takes no transport-cc feedback
/// (aiortc, older clients), sans-IO: derived from what arrives and what is lost, as the loss-based
/// rule of draft-ietf-rmcat-gcc-02 §6 does, with the rate-of-arrival bound of its §5.5.
///
/// Once a report interval: over 10% lost, the estimate falls to what arrived × (1 − loss/2); under
/// 2% lost, it grows by 8% (at most to 1.5 × what arrived + ``headroomBitsPerSecond``, so a sender
/// ramps up in steps it can show it can carry); in between it holds. Never above ``ceiling``,
/// never below ``floor``.
public struct RembEstimator: Sendable {
    public let ceiling: UInt64
    public var floor: UInt64 = 100_000
    public var headroomBitsPerSecond: UInt64 = 150_000
    /// The current estimate (bits per second).
    public private(set) var estimate: UInt64
    private var bytes = 0
    private var since: Int64?

    /// Starts at `ceiling`, the most the recorder asks for (`--remb-kbps`); the first interval's
    /// arrivals bring it down to what the path carries.
    public init(ceiling: UInt64) {
        self.ceiling = ceiling
        estimate = ceiling
    }

    /// Counts one received packet's bytes (media and retransmissions alike).
    public mutating func received(bytes count: Int, nowMicros: Int64) {
        if since == nil { since = nowMicros }
        bytes += count
    }

    /// Ends an interval at `nowMicros` with `fractionLost` (0...1) of the media packets lost in it;
    /// returns the new estimate.
    @discardableResult
    public mutating func update(nowMicros: Int64, fractionLost: Double) -> UInt64 {
        guard let start = since, nowMicros > start else { return estimate }
        let arrived = Double(bytes) * 8 * 1_000_000 / Double(nowMicros - start)
        bytes = 0
        since = nowMicros
        var next = Double(estimate)
        if fractionLost > 0.10 {
            next = arrived * (1 - fractionLost / 2)
        } else if fractionLost < 0.02 {
            next = min(next * 1.08, 1.5 * arrived + Double(headroomBitsPerSecond))
        }
        estimate = UInt64(min(Double(ceiling), max(Double(floor), next)))
        return estimate
    }
}
