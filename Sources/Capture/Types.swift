// Module Capture: streaming readers and writers for RTP dump files
// (Janus .mjr, pcap, pcapng, rtpdump). No dependencies; constant memory in file size.
//
// Choices worth knowing (see each reader's doc comment for details):
// - Files are read forward through a 64 KiB window (`ByteSource`); it grows only for a record
//   whose length was checked against the format's limit (never beyond ~1 MiB).
// - A record cut short by the end of the file ends the stream with a warning; everything before
//   it is kept. A length that is zero, inconsistent, or implausibly large is a `CaptureError`.
//   (.mjr: a frame longer than 9008 bytes that runs past the end is an error, a shorter one is
//   a truncation. pcap/pcapng: caplen above the snap length or 256 KiB is an error.)
// - pcap caplen 0 / damaged frames are skipped with a warning (libpcap accepts them).
// - IP fragments are skipped and counted (no reassembly): RTP over fragmented UDP is rare.
// - .mjr 8-byte "magic only" files are empty tracks: header.kind == .unknown, no packets.

/// One datagram from a capture: an RTP or RTCP packet plus where/when it was seen.
public struct CapturedPacket: Sendable, Equatable {
    /// Microseconds since the Unix epoch (the capture's clock).
    public var arrivalMicros: Int64
    /// The UDP payload: one RTP or RTCP packet (for .mjr data tracks: the data-channel message).
    public var data: [UInt8]
    /// pcap/pcapng: addresses and ports; rtpdump: header address/port; nil for .mjr.
    public var flow: UDPFlow?

    public init(arrivalMicros: Int64, data: [UInt8], flow: UDPFlow? = nil) {
        self.arrivalMicros = arrivalMicros
        self.data = data
        self.flow = flow
    }
}

/// The capture times flowrec accepts: µs since the Unix epoch, from 1970 to 2128 (beyond pcap's
/// unsigned 32-bit seconds, which end in 2106, and rtpdump's start plus 32-bit ms offsets). A time
/// read from a file outside this range is an error or a skipped record, never an overflow later:
/// differences of two such times, and those times in 48 kHz samples, fit an `Int64` with room to spare.
public enum CaptureTime {
    /// The largest accepted time: 5·10^15 µs (2128-06-11).
    public static let maxMicros: Int64 = 5_000_000_000_000_000
    /// The accepted times.
    public static let range: ClosedRange<Int64> = 0...maxMicros

    /// `seconds`·10^6 + `fractionMicros` when that is in ``range``; nil otherwise (never traps).
    public static func micros(seconds: Int64, fractionMicros: Int64) -> Int64? {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        guard !overflow else { return nil }
        let (sum, overflow2) = scaled.addingReportingOverflow(fractionMicros)
        return !overflow2 && range.contains(sum) ? sum : nil
    }
}

/// A UDP 4-tuple. Addresses are text ("10.0.0.1", "::1").
public struct UDPFlow: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var sourcePort: UInt16
    public var destination: String
    public var destinationPort: UInt16

    public init(source: String, sourcePort: UInt16, destination: String, destinationPort: UInt16) {
        self.source = source
        self.sourcePort = sourcePort
        self.destination = destination
        self.destinationPort = destinationPort
    }

    public var description: String {
        func ep(_ a: String, _ p: UInt16) -> String { a.contains(":") ? "[\(a)]:\(p)" : "\(a):\(p)" }
        return "\(ep(source, sourcePort)) -> \(ep(destination, destinationPort))"
    }
}

/// A failure reading or writing a capture file: which file, at which byte, and what was wrong.
public struct CaptureError: Error, Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var offset: Int64
    public var reason: String

    public init(path: String, offset: Int64, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    /// e.g. "room.mjr: byte 1234: frame length 65000 runs past the end of the file"
    public var description: String { "\(path): byte \(offset): \(reason)" }
}

/// Something odd but survivable (a truncated last record, a skipped packet).
public struct CaptureWarning: Sendable, CustomStringConvertible, Equatable {
    public var path: String
    public var offset: Int64
    public var reason: String

    public init(path: String, offset: Int64, reason: String) {
        self.path = path
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(path): byte \(offset): \(reason)" }

    /// Warnings kept per reader before they are summarised (keeps memory bounded on hostile files).
    public static let maxKept = 100
}

/// A streaming reader of captured packets, in file order.
public protocol PacketReader: AnyObject {
    /// Returns the next packet, nil at a clean end. A truncated last record ends the stream
    /// (returns nil) and appends a warning. After an error, every later call throws it again.
    func next() throws(CaptureError) -> CapturedPacket?
    /// Warnings collected so far (bounded: at most `CaptureWarning.maxKept` are kept, then one summary).
    var warnings: [CaptureWarning] { get }
    var path: String { get }
}


public enum CaptureFormat: String, Sendable, CaseIterable {
    case mjr, pcap, pcapng, rtpdump

    /// Detects the format from the first bytes (magic), not the extension.
    public static func detect(path: String) throws(CaptureError) -> CaptureFormat {
        let src = try ByteSource(path: path)
        defer { src.close() }
        _ = src.ensure(16)
        let n = src.available
        if n == 0 { throw CaptureError(path: path, offset: 0, reason: "empty file: not a capture") }
        let b = src.peekBytes(min(n, 16))
        return try detect(prefix: b, path: path)
    }

    /// Detects the format from a file prefix (at least 4 bytes; 8 for .mjr, 12 for rtpdump).
    public static func detect(prefix b: [UInt8], path: String = "<bytes>") throws(CaptureError) -> CaptureFormat {
        func starts(_ s: String) -> Bool {
            let u = Array(s.utf8)
            return b.count >= u.count && Array(b[0..<u.count]) == u
        }
        if starts("MJR0000") || starts("MEETECHO") { return .mjr }
        if starts("#!rtpplay") { return .rtpdump }
        if b.count >= 4 {
            let m = UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
            switch m {
            case 0xA1B2_C3D4, 0xD4C3_B2A1, 0xA1B2_3C4D, 0x4D3C_B2A1: return .pcap
            case 0x0A0D_0D0A: return .pcapng
            default: break
            }
        }
        let hex = b.prefix(8).map { hex2($0) }.joined(separator: " ")
        throw CaptureError(path: path, offset: 0,
                           reason: "unknown capture format (first bytes \(hex)); expected .mjr, pcap, pcapng or rtpdump magic")
    }
}

/// Detects the format of `path` and opens the matching reader.
public func openCaptureReader(path: String) throws(CaptureError) -> any PacketReader {
    switch try CaptureFormat.detect(path: path) {
    case .mjr: return try MJRReader(path: path)
    case .pcap: return try PcapReader(path: path)
    case .pcapng: return try PcapngReader(path: path)
    case .rtpdump: return try RTPDumpReader(path: path)
    }
}

// MARK: - small helpers shared by the readers

func hex2(_ v: UInt8) -> String {
    let d = Array("0123456789abcdef")
    return String([d[Int(v >> 4)], d[Int(v & 15)]])
}

/// Printable rendering of a few bytes for error messages ("MEXT" or hex).
func describeBytes(_ b: [UInt8]) -> String {
    if b.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return "\"" + String(decoding: b, as: UTF8.self) + "\"" }
    return b.map { hex2($0) }.joined(separator: " ")
}

/// Collects warnings with a bound, shared by readers.
struct WarningLog {
    private(set) var items: [CaptureWarning] = []
    private var dropped = 0
    mutating func add(_ w: CaptureWarning) {
        if items.count < CaptureWarning.maxKept {
            items.append(w)
        } else {
            dropped += 1
            if dropped == 1 {
                items.append(CaptureWarning(path: w.path, offset: w.offset, reason: "more warnings suppressed"))
            }
        }
    }
}

/// Makes a reader's first error final: once `guarding` has thrown, every later call throws the
/// same error again without running its body, so a reader never resumes mid-record.
struct StickyFailure {
    private var error: CaptureError?

    mutating func guarding<T>(_ body: () throws(CaptureError) -> T) throws(CaptureError) -> T {
        if let error { throw error }
        do throws(CaptureError) {
            return try body()
        } catch {
            self.error = error
            throw error
        }
    }
}
