import RTP

/// A packet released in sequence order by `ReorderBuffer`, with unwrapped sequence number and timestamp.
public struct OrderedPacket: Sendable {
    public var packet: RTPPacket
    /// Sequence number unwrapped to 64 bits.
    public var sequence: Int64
    /// RTP timestamp unwrapped to 64 bits.
    public var timestamp: Int64
    /// When the packet arrived, microseconds on the capture's clock.
    public var arrivalMicros: Int64

    public init(packet: RTPPacket, sequence: Int64, timestamp: Int64, arrivalMicros: Int64) {
        self.packet = packet
        self.sequence = sequence
        self.timestamp = timestamp
        self.arrivalMicros = arrivalMicros
    }
}

/// What a `ReorderBuffer` releases: the next packet in order, or a run of sequence numbers given up as lost.
public enum ReorderOutput: Sendable {
    case packet(OrderedPacket)
    case gap(firstSequence: Int64, count: Int)
}

/// Counters of a `ReorderBuffer`.
public struct ReorderStats: Sendable, Equatable {
    /// Every packet passed to `insert`.
    public var received = 0
    /// Packets dropped because the same sequence number was already buffered or released.
    public var duplicates = 0
    /// Accepted packets that arrived after a higher sequence number.
    public var reordered = 0
    /// Sequence numbers declared lost (sum of all gap counts).
    public var lost = 0
    /// Packets dropped because they arrived after their sequence number was declared lost (or before the stream start).
    public var late = 0
    /// Packets released in order.
    public var released = 0
    /// Times the sender's sequence numbers jumped far back and the buffer started over.
    public var restarts = 0

    public init() {}
}

/// Puts one SSRC's packets back in sequence order. Bounded by packet count (a packet more than `maxPackets`
/// ahead forces the oldest missing ones to be declared lost) and by time (a packet that waited `maxDelayMicros`
/// for a missing predecessor is released and the predecessors declared lost). Sans-IO: time only moves
/// through `insert(_:arrivalMicros:)` and `advance(toMicros:)`.
public struct ReorderBuffer: Sendable {
    public let maxPackets: Int
    public let maxDelayMicros: Int64
    public private(set) var stats = ReorderStats()

    private var seqUnwrapper = SequenceUnwrapper()
    private var tsUnwrapper = TimestampUnwrapper()
    /// Next sequence number to release; nil before the first packet.
    private var next: Int64?
    /// Highest sequence number accepted so far.
    private var highest: Int64 = .min
    /// Ring of waiting packets, slot = seq mod capacity, valid for next ..< next + capacity.
    private var slots: [OrderedPacket?]
    private var buffered = 0
    /// Ring remembering recently released sequence numbers, to tell duplicates from late packets.
    private var history: [Int64]
    /// Next sequence number of a run of far-behind packets that may be a sender restart.
    private var restartCandidate: Int64?
    private var restartRun = 0
    /// Added to unwrapped sequence numbers after sender restarts, so output stays increasing.
    private var restartOffset: Int64 = 0

    public init(maxPackets: Int = 256, maxDelayMicros: Int64 = 200_000) {
        self.maxPackets = max(1, maxPackets)
        self.maxDelayMicros = max(0, maxDelayMicros)
        slots = Array(repeating: nil, count: self.maxPackets)
        history = Array(repeating: .min, count: max(1024, self.maxPackets * 4))
    }

    /// Number of packets waiting for a missing predecessor.
    public var bufferedCount: Int { buffered }

    @inline(__always) private func slot(_ seq: Int64) -> Int { Int(seq.modulo(Int64(slots.count))) }
    @inline(__always) private func historySlot(_ seq: Int64) -> Int { Int(seq.modulo(Int64(history.count))) }

    /// Inserts a packet (its unwrapped sequence number is computed here) and returns what is now ready in order.
    /// Time first advances to `arrivalMicros`, so packets that waited too long are released before this one is placed.
    public mutating func insert(_ packet: RTPPacket, arrivalMicros: Int64) -> [ReorderOutput] {
        stats.received += 1
        var out = advance(toMicros: arrivalMicros)
        var seq = seqUnwrapper.unwrap(packet.sequenceNumber) + restartOffset
        guard var nextSeq = next else {
            // The first packet waits like any other, so one that was sent before it but arrives
            // just after it still gets in (see below) instead of being dropped as late.
            next = seq
            highest = seq
            store(packet, seq, arrivalMicros)
            return out
        }
        if seq < nextSeq {
            if stats.released == 0, highest - seq < Int64(slots.count) {
                // Nothing released yet: the stream simply starts earlier than the first arrival.
                next = seq
                nextSeq = seq
            } else if nextSeq - seq > Self.restartDistance {
                guard confirmsRestart(seq) else {
                    stats.late += 1
                    return out
                }
                // The sender restarted its sequence numbers: release what is held and continue the
                // numbering after it (released sequences stay increasing), marking the break as a
                // one-packet gap so a depacketizer drops any half-built frame.
                releaseThrough(highest + 1, &out)
                restartOffset += highest + 2 - seq
                seq = highest + 2
                out.append(.gap(firstSequence: highest + 1, count: 1))
                stats.restarts += 1
                highest = seq
                emit(packet, seq, arrivalMicros, &out)
                next = seq + 1
                return out
            } else {
                if history[historySlot(seq)] == seq { stats.duplicates += 1 } else { stats.late += 1 }
                return out
            }
        }
        if seq < nextSeq + Int64(slots.count), slots[slot(seq)] != nil {
            stats.duplicates += 1
            return out
        }
        if seq < highest { stats.reordered += 1 }
        // Too far ahead for the ring: give up on the oldest missing packets.
        if seq >= nextSeq + Int64(slots.count) {
            releaseThrough(seq - Int64(slots.count) + 1, &out)
            releaseContiguous(&out)
        }
        highest = max(highest, seq)
        if seq == next! {
            emit(packet, seq, arrivalMicros, &out)
            next = seq + 1
            releaseContiguous(&out)
        } else {
            store(packet, seq, arrivalMicros)
        }
        return out
    }

    /// A packet this far behind the stream is not late but a sender restart, once confirmed.
    static let restartDistance: Int64 = 1000
    /// Consecutive packets of the new sequence needed to accept a restart.
    static let restartConfirmations = 3

    /// Tracks a run of consecutive far-behind packets; true once it is long enough to be a restart.
    private mutating func confirmsRestart(_ seq: Int64) -> Bool {
        restartRun = (restartCandidate == seq) ? restartRun + 1 : 1
        restartCandidate = seq + 1
        return restartRun >= Self.restartConfirmations
    }

    private mutating func store(_ packet: RTPPacket, _ seq: Int64, _ arrival: Int64) {
        let ts = tsUnwrapper.unwrap(packet.timestamp)
        slots[slot(seq)] = OrderedPacket(packet: packet, sequence: seq, timestamp: ts, arrivalMicros: arrival)
        buffered += 1
    }

    /// Time passes: every waiting packet that arrived at least `maxDelayMicros` ago is released, with the
    /// missing sequence numbers before it declared lost.
    public mutating func advance(toMicros now: Int64) -> [ReorderOutput] {
        var out: [ReorderOutput] = []
        guard buffered > 0, let nextSeq = next else { return out }
        let deadline = now - maxDelayMicros
        var release: Int64? = nil
        var s = nextSeq
        let end = min(highest, nextSeq + Int64(slots.count) - 1)
        while s <= end {
            if let p = slots[slot(s)], p.arrivalMicros <= deadline { release = s }
            s += 1
        }
        if let release {
            releaseThrough(release + 1, &out)
            releaseContiguous(&out)
        }
        return out
    }

    /// End of stream: releases everything still waiting, declaring the holes lost.
    public mutating func flush() -> [ReorderOutput] {
        var out: [ReorderOutput] = []
        guard next != nil, buffered > 0 else { return out }
        releaseThrough(highest + 1, &out)
        return out
    }

    // MARK: internals

    private mutating func emit(_ packet: RTPPacket, _ seq: Int64, _ arrival: Int64, _ out: inout [ReorderOutput]) {
        let ts = tsUnwrapper.unwrap(packet.timestamp)
        emit(OrderedPacket(packet: packet, sequence: seq, timestamp: ts, arrivalMicros: arrival), &out)
    }

    private mutating func emit(_ p: OrderedPacket, _ out: inout [ReorderOutput]) {
        history[historySlot(p.sequence)] = p.sequence
        stats.released += 1
        out.append(.packet(p))
    }

    /// Releases or declares lost every sequence number below `limit`; afterwards `next == max(next, limit)`.
    private mutating func releaseThrough(_ limit: Int64, _ out: inout [ReorderOutput]) {
        guard var s = next, limit > s else { return }
        var gapStart: Int64? = nil
        let ringEnd = min(limit, s + Int64(slots.count))
        while s < ringEnd {
            let k = slot(s)
            if let p = slots[k] {
                if let g = gapStart { declareGap(g, s, &out); gapStart = nil }
                slots[k] = nil
                buffered -= 1
                emit(p, &out)
            } else if gapStart == nil {
                gapStart = s
            }
            s += 1
        }
        if limit > s, gapStart == nil { gapStart = s }
        if let g = gapStart { declareGap(g, limit, &out) }
        next = limit
    }

    private mutating func declareGap(_ first: Int64, _ end: Int64, _ out: inout [ReorderOutput]) {
        let count = Int(end - first)
        guard count > 0 else { return }
        stats.lost += count
        out.append(.gap(firstSequence: first, count: count))
    }

    private mutating func releaseContiguous(_ out: inout [ReorderOutput]) {
        guard var s = next else { return }
        while buffered > 0, let p = slots[slot(s)], p.sequence == s {
            slots[slot(s)] = nil
            buffered -= 1
            emit(p, &out)
            s += 1
        }
        next = s
    }
}

extension Int64 {
    /// Non-negative remainder.
    @inline(__always) func modulo(_ m: Int64) -> Int64 {
        let r = self % m
        return r < 0 ? r + m : r
    }
}
