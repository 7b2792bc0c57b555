import Capture

/// A captured packet together with the index of the input file it came from.
public struct SourcedPacket: Sendable {
    public var input: Int
    public var packet: CapturedPacket
}

/// Reads several capture files at once and returns their packets merged by arrival time
/// (a k-way merge holding one packet per input), so memory stays constant in file size.
/// Ties keep input order, so a single file is returned exactly in file order.
public final class MergedPacketStream {
    private let readers: [any PacketReader]
    private var heads: [CapturedPacket?]

    /// Opens every path (format detected from its magic bytes).
    public init(paths: [String]) throws(CaptureError) {
        var readers: [any PacketReader] = []
        for path in paths { readers.append(try openCaptureReader(path: path)) }
        self.readers = readers
        heads = []
        for reader in readers { heads.append(try reader.next()) }
    }

    /// The readers, in input order (for headers and warnings).
    public var inputs: [any PacketReader] { readers }

    /// Warnings of every reader so far (truncated last records and the like).
    public var warnings: [CaptureWarning] { readers.flatMap(\.warnings) }

    /// The next packet of any input with the earliest arrival time, or nil when all are done.
    public func next() throws(CaptureError) -> SourcedPacket? {
        var best = -1
        var bestTime = Int64.max
        for (i, head) in heads.enumerated() {
            if let head, head.arrivalMicros < bestTime {
                best = i
                bestTime = head.arrivalMicros
            }
        }
        guard best >= 0, let packet = heads[best] else { return nil }
        heads[best] = try readers[best].next()
        return SourcedPacket(input: best, packet: packet)
    }
}
