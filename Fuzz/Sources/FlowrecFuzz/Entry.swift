#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The fuzz targets; `FLOWREC_FUZZ_TARGET` names the one this process runs.
enum FuzzTarget: String, CaseIterable, Sendable {
    case mjr, pcap, pcapng, rtpdump, rtp, rtcp, depacketizer, sdp, offer, stun

    /// Feeds one input to the code under test. Rejections (thrown errors, nil) are fine; a trap,
    /// a sanitizer report, a hang or unbounded memory is a finding.
    func run(_ data: [UInt8]) {
        switch self {
        case .mjr, .pcap, .pcapng, .rtpdump: CaptureFuzz.run(self, data)
        case .rtp: PacketFuzz.rtp(data)
        case .rtcp: PacketFuzz.rtcp(data)
        case .stun: PacketFuzz.stun(data)
        case .depacketizer: DepacketizerFuzz.run(data)
        case .sdp: SDPFuzz.sdp(data)
        case .offer: SDPFuzz.offer(data)
        }
    }

    static let selected: FuzzTarget = {
        let name = getenv("FLOWREC_FUZZ_TARGET").map { String(cString: $0) } ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: " ")
            let message = "FLOWREC_FUZZ_TARGET must be one of: \(names) (got '\(name)')\n"
            _ = message.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
            exit(2)
        }
        if target == .offer { SDPFuzz.prepare() }
        return target
    }()
}
