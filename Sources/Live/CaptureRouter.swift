import Capture
import ICE
import Ingest
import Peer

/// One participant's capture file as the manifest lists it.
public struct CaptureSummary: Sendable, Codable, Equatable {
    public var participant: String
    public var path: String
    public var packets: Int
    /// Why writing stopped early, if it did (the packets before it are kept).
    public var failure: String?
}

/// Sends each packet of a peer connection to its participant's capture: everything to one
/// participant (a WHIP publisher), or by m-line (a Janus subscription carries every publisher of
/// the room, one m-line per stream). Captures open on their first packet, as
/// `<folder>/<participant>.pcap`. Confined to the owning session's event loop.
final class CaptureRouter {
    private let folder: String
    private let local: STUNAddress
    /// The participant of packets whose m-line has no route (a WHIP publisher's whole connection).
    private let defaultParticipant: String?
    private var participantOfMid: [String: String] = [:]
    private var captures: [String: ParticipantCapture] = [:]
    private var order: [String] = []
    /// Packets of m-lines not routed yet, held until their route comes (media may arrive on a new
    /// m-line a moment before the offer that says whose it is). Bounded by ``maxHeld``.
    private var held: [String: [(packet: ReceivedPacket, wallMicros: Int64)]] = [:]
    /// RTP packets whose m-line is not known yet (an SSRC the current offer did not announce), by SSRC.
    private var heldBySSRC: [UInt32: [(packet: ReceivedPacket, wallMicros: Int64)]] = [:]
    private var heldCount = 0
    static let maxHeld = 2_000
    /// Packets that had no participant (no m-line known, or dropped from a full hold).
    private(set) var unrouted = 0
    private var openFailures: [String: String] = [:]

    /// Added to file names (`<participant><suffix>.pcap`, e.g. `@2`), so a later connection of the same
    /// recording does not overwrite an earlier one's files.
    private let suffix: String

    /// Where every captured packet also goes, to make the outputs while recording.
    private let outputs: LiveOutputs?
    private var sourceOf: [String: Int] = [:]

    init(folder: String, local: STUNAddress, defaultParticipant: String?, suffix: String = "", outputs: LiveOutputs? = nil) {
        self.folder = folder
        self.outputs = outputs
        self.suffix = suffix
        self.local = local
        self.defaultParticipant = defaultParticipant
    }

    /// The participant of each m-line from now on (a renegotiation replaces the whole map); packets
    /// held for a newly routed m-line are written first.
    func route(_ mids: [String: String], nowMicros: Int64) {
        participantOfMid = mids
        for mid in Array(held.keys) where mids[mid] != nil {
            let packets = held.removeValue(forKey: mid) ?? []
            heldCount -= packets.count
            for (packet, wall) in packets { write(packet, wallMicros: wall, nowMicros: nowMicros) }
        }
    }

    /// Gives held RTP packets of SSRCs whose m-line is now known (from a renegotiated offer's
    /// `a=ssrc` lines) their m-line, and writes them if it is routed.
    func resolve(midOfSSRC: [UInt32: String], nowMicros: Int64) {
        for ssrc in Array(heldBySSRC.keys) {
            guard let mid = midOfSSRC[ssrc], let packets = heldBySSRC.removeValue(forKey: ssrc) else { continue }
            heldCount -= packets.count
            for (packet, wall) in packets {
                var placed = packet
                placed.mid = mid
                write(placed, wallMicros: wall, nowMicros: nowMicros)
            }
        }
    }

    func write(_ packet: ReceivedPacket, wallMicros: Int64, nowMicros: Int64) {
        guard let participant = packet.mid.flatMap({ participantOfMid[$0] }) ?? defaultParticipant else {
            hold(packet, wallMicros: wallMicros)
            return
        }
        if captures[participant] == nil, openFailures[participant] == nil {
            do {
                captures[participant] = try ParticipantCapture(path: folder + "/\(safeFileName(participant))\(suffix).pcap", local: local,
                                                               nowMicros: nowMicros)
                order.append(participant)
                sourceOf[participant] = outputs?.source(capturePath: captures[participant]!.path)
            } catch {
                openFailures[participant] = "\(error)"
            }
        }
        guard let capture = captures[participant] else { return }
        let bytes = ParticipantCapture.capturedBytes(packet)
        capture.write(bytes, of: packet, wallMicros: wallMicros)
        if let outputs, let source = sourceOf[participant] {
            outputs.add(source: source, participant: participant, bytes: bytes, arrivalMicros: wallMicros)
        }
    }

    private func hold(_ packet: ReceivedPacket, wallMicros: Int64) {
        guard heldCount < Self.maxHeld else {
            unrouted += 1
            return
        }
        if let mid = packet.mid {
            held[mid, default: []].append((packet, wallMicros))
        } else if packet.kind == .rtp, let header = RTPHeaderPeek(packet.bytes) {
            heldBySSRC[header.ssrc, default: []].append((packet, wallMicros))
        } else {
            unrouted += 1
            return
        }
        heldCount += 1
    }

    func flushIfDue(nowMicros: Int64) {
        for capture in captures.values { capture.flushIfDue(nowMicros: nowMicros) }
    }

    /// Closes every capture; the live outputs let go of their sources.
    func close() {
        for capture in captures.values { capture.close() }
        for participant in order { if let source = sourceOf[participant] { outputs?.endSource(source) } }
    }

    var summaries: [CaptureSummary] {
        order.map { name in
            let capture = captures[name]!
            return CaptureSummary(participant: name, path: capture.path, packets: capture.packets, failure: capture.failure.map { "\($0)" })
        } + openFailures.sorted { $0.key < $1.key }.map {
            CaptureSummary(participant: $0.key, path: folder + "/\(safeFileName($0.key))\(suffix).pcap", packets: 0, failure: $0.value)
        }
    }

}
