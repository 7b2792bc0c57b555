import Capture
import Dispatch
import Foundation
import ICE
import Media
import Peer
import Synchronization

/// One participant's raw capture: every decrypted RTP and RTCP packet it sent, as a pcap file
/// that `flowrec transcode` reads. Payload types are rewritten to fixed ones per codec
/// (``payloadType(for:)``) so that files from peers with different SDP read the same way.
///
/// Crash safety: the file is flushed to the kernel at least once a second (a crash or `kill -9`
/// loses nothing flushed), and synced to disk right after on another thread: an fsync can take
/// 100 ms (measured: the first one of a new file, 95 ms), and on the event loop it held every
/// packet of the connection back that long, which a sender's congestion control reads as congestion.
final class ParticipantCapture {
    let path: String
    private let writer: PcapWriter
    private let local: STUNAddress
    private var lastFlushMicros: Int64
    private(set) var packets = 0
    /// The first write or flush error; the capture stops there (the packets before it are kept).
    private(set) var failure: CaptureError?
    /// The background sync's state: whether one is running, and its first failure.
    private final class SyncState: Sendable {
        let value = Mutex<(running: Bool, failure: String?)>((false, nil))
    }
    private let syncing = SyncState()
    /// One thread syncs every capture, one file at a time.
    private static let syncQueue = DispatchQueue(label: "flowrec-capture-sync")

    static let flushIntervalMicros: Int64 = 1_000_000

    /// The payload type a codec is written with.
    static func payloadType(for codec: Codec) -> UInt8 {
        switch codec {
        case .opus: 111
        case .vp8: 96
        case .vp9: 98
        case .h264: 102
        }
    }

    /// The codec of each payload type written, for reading the capture back.
    static var payloadTypes: [UInt8: Codec] {
        Dictionary(uniqueKeysWithValues: Codec.allCases.map { (payloadType(for: $0), $0) })
    }

    init(path: String, local: STUNAddress, nowMicros: Int64) throws(CaptureError) {
        self.path = path
        self.local = local
        writer = try PcapWriter(path: path)
        lastFlushMicros = nowMicros
    }

    /// A packet's bytes as the capture holds them: RTP with the codec's fixed payload type.
    static func capturedBytes(_ packet: ReceivedPacket) -> [UInt8] {
        var bytes = packet.bytes
        if packet.kind == .rtp, let codec = packet.codec, bytes.count > 1 {
            bytes[1] = bytes[1] & 0x80 | Self.payloadType(for: codec)
        }
        return bytes
    }

    /// Appends one packet (``capturedBytes(_:)`` of it) from `packet.from`, seen at `wallMicros` (µs since the epoch).
    func write(_ bytes: [UInt8], of packet: ReceivedPacket, wallMicros: Int64) {
        guard failure == nil else { return }
        let flow = UDPFlow(source: packet.from.ip, sourcePort: packet.from.port, destination: local.ip, destinationPort: local.port)
        do { try writer.write(bytes, flow: flow, atMicros: wallMicros) } catch { failure = error }
        packets += 1
    }

    /// Flushes when the last flush is a second old, and starts a sync on the sync thread unless
    /// the last one is still running (a slow disk); a sync that failed ends the capture here.
    func flushIfDue(nowMicros: Int64) {
        guard nowMicros - lastFlushMicros >= Self.flushIntervalMicros, failure == nil else { return }
        lastFlushMicros = nowMicros
        if let reason = syncing.value.withLock({ $0.failure }) {
            failure = CaptureError(path: path, offset: 0, reason: reason)
            return
        }
        do { try writer.flush(sync: false) } catch {
            failure = error
            return
        }
        let start = syncing.value.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        guard start else { return }
        guard let fd = writer.duplicateDescriptor() else {
            syncing.value.withLock { $0.running = false }
            return
        }
        let state = syncing
        Self.syncQueue.async {
            let failed = fsync(fd) != 0 ? "fsync failed: \(String(cString: strerror(errno)))" : nil
            _ = Foundation.close(fd)
            state.value.withLock { $0 = (false, $0.failure ?? failed) }
        }
    }

    func close() {
        do { try writer.close() } catch { if failure == nil { failure = error } }
    }
}
