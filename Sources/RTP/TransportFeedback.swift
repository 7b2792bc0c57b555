/// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
/// §3.1: RTPFB, FMT 15): for a run of transport-wide sequence numbers from ``baseSequence``, which
/// packets arrived and when, so the sender's congestion controller can estimate the path.
public struct TransportFeedback: Sendable, Equatable {
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var baseSequence: UInt16
    /// Signed 24 bits, in units of 64 ms: the time the first receive delta counts from.
    public var referenceTime: Int32
    /// Counts feedback packets (mod 256), so the sender can tell one was lost.
    public var feedbackCount: UInt8
    /// One entry per sequence number from ``baseSequence`` on: nil when not received, otherwise the
    /// receive delta in 250 µs ticks from the previous received packet (the first from ``referenceTime``).
    public var deltas: [Int16?]

    /// One receive delta tick.
    public static let tickMicros: Int64 = 250
    /// One ``referenceTime`` unit.
    public static let referenceMicros: Int64 = 64_000

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, baseSequence: UInt16, referenceTime: Int32, feedbackCount: UInt8,
                deltas: [Int16?]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.baseSequence = baseSequence
        self.referenceTime = referenceTime
        self.feedbackCount = feedbackCount
        self.deltas = deltas
    }

    /// The packet status symbol of one entry: 0 not received, 1 small delta (one byte), 2 large or negative delta (two bytes).
    static func symbol(_ delta: Int16?) -> UInt8 {
        guard let delta else { return 0 }
        return (0...255).contains(delta) ? 1 : 2
    }

    /// The body after the two SSRCs: base, count, reference time, chunks, deltas.
    func appendBody(to out: inout [UInt8]) {
        out.appendU16(baseSequence)
        out.appendU16(UInt16(clamping: deltas.count))
        out.appendU24(UInt32(bitPattern: referenceTime) & 0xFF_FFFF)
        out.append(feedbackCount)
        let symbols = deltas.map(Self.symbol)
        var i = 0
        while i < symbols.count {
            // A run-length chunk when at least 14 equal symbols follow (a vector chunk holds no more);
            // otherwise a one-bit vector of 14 when none of them needs two bytes, else a two-bit vector of 7.
            var run = 1
            while i + run < symbols.count, run < 0x1FFF, symbols[i + run] == symbols[i] { run += 1 }
            if run >= 14 {
                out.appendU16(UInt16(symbols[i]) << 13 | UInt16(run))
                i += run
                continue
            }
            let next14 = symbols[i..<min(symbols.count, i + 14)]
            if !next14.contains(2) {
                var chunk: UInt16 = 0x8000
                for (k, s) in next14.enumerated() { chunk |= UInt16(s) << (13 - k) }
                out.appendU16(chunk)
                i += next14.count
            } else {
                var chunk: UInt16 = 0xC000
                for (k, s) in symbols[i..<min(symbols.count, i + 7)].enumerated() { chunk |= UInt16(s) << (12 - 2 * k) }
                out.appendU16(chunk)
                i += 7
            }
        }
        for delta in deltas {
            guard let delta else { continue }
            if Self.symbol(delta) == 1 { out.append(UInt8(delta)) } else { out.appendU16(UInt16(bitPattern: delta)) }
        }
    }

    /// Parses the FCI of an RTPFB FMT 15 packet: `b[start..<end]` begins with the base sequence number.
    static func parseBody(_ b: [UInt8], start: Int, end: Int, senderSSRC: UInt32, mediaSSRC: UInt32) throws(RTPError) -> TransportFeedback {
        guard start + 8 <= end else { throw RTPError(offset: start, reason: "transport-cc feedback header truncated") }
        let base = readU16(b, start)
        let count = Int(readU16(b, start + 2))
        let rawReference = readU24(b, start + 4)
        let reference = Int32(bitPattern: rawReference & 0x80_0000 != 0 ? rawReference | 0xFF00_0000 : rawReference)
        let feedbackCount = b[start + 7]
        var i = start + 8
        var symbols: [UInt8] = []
        symbols.reserveCapacity(count)
        while symbols.count < count {
            guard i + 2 <= end else {
                throw RTPError(offset: i, reason: "transport-cc chunks end after \(symbols.count) of \(count) packet statuses")
            }
            let chunk = readU16(b, i)
            i += 2
            if chunk & 0x8000 == 0 {
                let symbol = UInt8(chunk >> 13 & 0x3)
                let run = Int(chunk & 0x1FFF)
                guard symbol != 3 else { throw RTPError(offset: i - 2, reason: "transport-cc run of the reserved status 3") }
                symbols += repeatElement(symbol, count: min(run, count - symbols.count))
            } else if chunk & 0x4000 == 0 {
                for k in 0..<14 where symbols.count < count { symbols.append(UInt8(chunk >> (13 - k) & 0x1)) }
            } else {
                for k in 0..<7 where symbols.count < count {
                    let symbol = UInt8(chunk >> (12 - 2 * k) & 0x3)
                    guard symbol != 3 else { throw RTPError(offset: i - 2, reason: "transport-cc status vector holds the reserved status 3") }
                    symbols.append(symbol)
                }
            }
        }
        var deltas: [Int16?] = []
        deltas.reserveCapacity(count)
        for symbol in symbols {
            switch symbol {
            case 0: deltas.append(nil)
            case 1:
                guard i + 1 <= end else { throw RTPError(offset: i, reason: "transport-cc receive deltas truncated") }
                deltas.append(Int16(b[i]))
                i += 1
            default:
                guard i + 2 <= end else { throw RTPError(offset: i, reason: "transport-cc receive deltas truncated") }
                deltas.append(Int16(bitPattern: readU16(b, i)))
                i += 2
            }
        }
        return TransportFeedback(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, baseSequence: base, referenceTime: reference,
                                 feedbackCount: feedbackCount, deltas: deltas)
    }

    /// Arrival time (µs, on the feedback's own clock) of each entry, nil for packets not received.
    public var arrivalMicros: [Int64?] {
        var time = Int64(referenceTime) * Self.referenceMicros
        return deltas.map { delta in
            guard let delta else { return nil }
            time += Int64(delta) * Self.tickMicros
            return time
        }
    }
}
