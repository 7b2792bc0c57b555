import IPAddress
/// Largest captured length accepted for one packet (libpcap's maximum snap length).
let maxCapturedLength = 256 * 1024

/// Classic libpcap files: both byte orders, µs and ns timestamps.
///
/// Returns only UDP datagrams over IPv4/IPv6; other frames are skipped silently and counted in
/// `stats`. IP fragments (first or not) are skipped and counted: fragmented UDP is not
/// reassembled. A packet cut short by the snap length is skipped with a warning.
public final class PcapReader: PacketReader {
    public let path: String
    public var warnings: [CaptureWarning] { log.items }
    public private(set) var stats = CaptureStats()
    public let linkType: LinkType
    public let snapLength: UInt32
    public let isNanosecond: Bool
    public let isBigEndian: Bool

    private let src: ByteSource
    private var log = WarningLog()
    private var done = false
    private var failure = StickyFailure()
    private let limit: Int

    /// Bytes the reader may hold in memory at most (its bounded window).
    public var bufferCapacity: Int { src.capacity }

    public init(path: String) throws(CaptureError) {
        self.path = path
        src = try ByteSource(path: path)
        guard src.ensure(24) else {
            throw CaptureError(path: path, offset: 0,
                               reason: "file too short for a pcap header (\(src.available) of 24 bytes)")
        }
        let m = src.u32be(0)
        switch m {
        case 0xA1B2_C3D4: isBigEndian = true; isNanosecond = false
        case 0xA1B2_3C4D: isBigEndian = true; isNanosecond = true
        case 0xD4C3_B2A1: isBigEndian = false; isNanosecond = false
        case 0x4D3C_B2A1: isBigEndian = false; isNanosecond = true
        default:
            throw CaptureError(path: path, offset: 0,
                               reason: "wrong magic \(describeBytes(src.bytes(0, 4))), expected a pcap magic (a1b2c3d4 or a1b23c4d)")
        }
        let major = src.u16(4, big: isBigEndian)
        guard major == 2 else {
            throw CaptureError(path: path, offset: 4, reason: "unsupported pcap version \(major).\(src.u16(6, big: isBigEndian))")
        }
        snapLength = src.u32(16, big: isBigEndian)
        let network = src.u32(20, big: isBigEndian) & 0x0FFF_FFFF  // upper bits: FCS info
        guard let lt = LinkType(rawValue: network & 0xFFFF) else {
            throw CaptureError(path: path, offset: 20, reason: "unsupported link type \(network & 0xFFFF)")
        }
        linkType = lt
        limit = (snapLength == 0 || snapLength > UInt32(maxCapturedLength)) ? maxCapturedLength : Int(snapLength)
        src.consume(24)
    }

    public func next() throws(CaptureError) -> CapturedPacket? {
        try failure.guarding { () throws(CaptureError) in try readNext() }
    }

    private func readNext() throws(CaptureError) -> CapturedPacket? {
        while !done {
            let at = src.offset
            guard src.ensure(16) else {
                done = true
                if src.available > 0 {
                    log.add(CaptureWarning(path: path, offset: at,
                                           reason: "truncated record header (\(src.available) of 16 bytes); stream ends here"))
                }
                return nil
            }
            let be = isBigEndian
            let sec = Int64(src.u32(0, big: be))
            let frac = Int64(src.u32(4, big: be))
            let caplen = Int(src.u32(8, big: be))
            let origlen = Int(src.u32(12, big: be))
            if caplen > limit {
                throw CaptureError(path: path, offset: at + 8,
                                   reason: "captured length \(caplen) exceeds the snap length \(snapLength == 0 ? limit : Int(snapLength))"
                                       + (caplen > maxCapturedLength ? " and the 256 KiB limit" : ""))
            }
            guard src.ensure(16 + caplen) else {
                done = true
                log.add(CaptureWarning(path: path, offset: at,
                                       reason: "truncated last record (\(src.available - 16) of \(caplen) bytes); stream ends here"))
                return nil
            }
            guard frac < (isNanosecond ? 1_000_000_000 : 1_000_000) else {
                src.consume(16 + caplen)
                note(.malformed("timestamp fraction \(frac) out of range (\(isNanosecond ? "ns" : "µs"))"), at: at + 4)
                continue
            }
            // 32-bit seconds: always within CaptureTime.range.
            let micros = sec * 1_000_000 + (isNanosecond ? frac / 1000 : frac)
            let lt = linkType
            let result: DecodeResult = src.withWindow(16 + caplen) { w in
                decodeFrame(UnsafeBufferPointer(rebasing: w[16...]), linkType: lt, origLen: max(origlen, caplen))
            }
            switch result {
            case let .udp(flow, range):
                let data = src.bytes(16 + range.lowerBound, range.count)
                src.consume(16 + caplen)
                stats.packets += 1
                return CapturedPacket(arrivalMicros: micros, data: data, flow: flow)
            case let .skip(why):
                src.consume(16 + caplen)
                note(why, at: at)
            }
        }
        return nil
    }

    private func note(_ why: DecodeSkip, at: Int64) {
        switch why {
        case .notUDP: stats.nonUDP += 1
        case .fragment: stats.fragments += 1
        case let .truncated(m), let .malformed(m):
            stats.damaged += 1
            log.add(CaptureWarning(path: path, offset: at, reason: "packet skipped: \(m)"))
        }
    }

    public func close() { src.close() }
}

/// Builds Ethernet/IP/UDP frames for writers (IPv6 when the addresses are IPv6).
struct UDPFrameBuilder {
    private var ipID: UInt16 = 0

    /// Returns the Ethernet frame for `payload` on `flow`, or nil if an address is not IP text.
    mutating func frame(_ payload: [UInt8], flow: UDPFlow) -> [UInt8]? {
        let v6 = flow.source.contains(":") || flow.destination.contains(":")
        var f: [UInt8] = []
        f.reserveCapacity(payload.count + 62)
        f += [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]  // dst, src MAC (locally administered)
        let udpLen = payload.count + 8
        if !v6 {
            guard let s = IPAddressText.parseIPv4(flow.source), let d = IPAddressText.parseIPv4(flow.destination) else { return nil }
            f.appendBE16(0x0800)
            var h: [UInt8] = [0x45, 0]
            h.appendBE16(UInt16(20 + udpLen))
            h.appendBE16(ipID); ipID &+= 1
            h += [0x40, 0, 64, 17, 0, 0]  // DF, TTL 64, UDP, checksum placeholder
            h += s; h += d
            var sum: UInt32 = 0
            for i in stride(from: 0, to: 20, by: 2) { sum += UInt32(h[i]) << 8 | UInt32(h[i + 1]) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            let ck = ~UInt16(sum)
            h[10] = UInt8(ck >> 8); h[11] = UInt8(ck & 0xFF)
            f += h
            f.appendBE16(flow.sourcePort); f.appendBE16(flow.destinationPort)
            f.appendBE16(UInt16(udpLen)); f.appendBE16(0)  // checksum optional over IPv4
            f += payload
        } else {
            func v6addr(_ a: String) -> [UInt8]? {
                if let b = IPAddressText.parseIPv6(a) { return b }
                if let b = IPAddressText.parseIPv4(a) { return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + b }
                return nil
            }
            guard let s = v6addr(flow.source), let d = v6addr(flow.destination) else { return nil }
            f.appendBE16(0x86DD)
            f += [0x60, 0, 0, 0]
            f.appendBE16(UInt16(udpLen))
            f += [17, 64]
            f += s; f += d
            // UDP checksum is mandatory over IPv6.
            var sum: UInt32 = 0
            func add16(_ v: UInt16) { sum &+= UInt32(v) }
            for i in stride(from: 0, to: 16, by: 2) { add16(UInt16(s[i]) << 8 | UInt16(s[i + 1])); add16(UInt16(d[i]) << 8 | UInt16(d[i + 1])) }
            add16(UInt16(udpLen >> 16)); add16(UInt16(udpLen & 0xFFFF)); add16(17)
            add16(flow.sourcePort); add16(flow.destinationPort); add16(UInt16(udpLen))
            var i = 0
            while i + 1 < payload.count { add16(UInt16(payload[i]) << 8 | UInt16(payload[i + 1])); i += 2 }
            if i < payload.count { add16(UInt16(payload[i]) << 8) }
            while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
            var ck = ~UInt16(sum)
            if ck == 0 { ck = 0xFFFF }
            f.appendBE16(flow.sourcePort); f.appendBE16(flow.destinationPort)
            f.appendBE16(UInt16(udpLen)); f.appendBE16(ck)
            f += payload
        }
        return f
    }
}

/// Writes classic pcap (native byte order, µs, Ethernet link type) with Ethernet/IPv4/UDP frames,
/// or Ethernet/IPv6/UDP when the flow's addresses are IPv6.
public final class PcapWriter {
    public let path: String
    public private(set) var packetsWritten = 0
    private let sink: FileSink
    private var builder = UDPFrameBuilder()
    private var rec: [UInt8] = []
    static let snapLength: UInt32 = 262_144

    public init(path: String) throws(CaptureError) {
        self.path = path
        sink = try FileSink(path: path)
        var h: [UInt8] = []
        // Native byte order: readers detect it from the magic.
        let little = UInt32(1).littleEndian == 1
        func put32(_ v: UInt32) { little ? h.appendLE32(v) : h.appendBE32(v) }
        func put16(_ v: UInt16) { little ? h.appendLE16(v) : h.appendBE16(v) }
        put32(0xA1B2_C3D4); put16(2); put16(4); put32(0); put32(0); put32(PcapWriter.snapLength); put32(1)
        try sink.write(h)
    }

    /// Appends `data` as one UDP datagram on `flow`, seen at `atMicros` (µs since the epoch, >= 0).
    public func write(_ data: [UInt8], flow: UDPFlow, atMicros: Int64) throws(CaptureError) {
        guard data.count <= 65535 - 8 - 40 else {
            throw CaptureError(path: path, offset: sink.written, reason: "UDP payload of \(data.count) bytes is too large")
        }
        guard atMicros >= 0, atMicros / 1_000_000 <= Int64(UInt32.max) else {
            throw CaptureError(path: path, offset: sink.written, reason: "time \(atMicros) µs does not fit a pcap timestamp")
        }
        guard let frame = builder.frame(data, flow: flow) else {
            throw CaptureError(path: path, offset: sink.written, reason: "flow \(flow) has an address that is not IPv4/IPv6 text")
        }
        let little = UInt32(1).littleEndian == 1
        rec.removeAll(keepingCapacity: true)
        func put32(_ v: UInt32) { little ? rec.appendLE32(v) : rec.appendBE32(v) }
        put32(UInt32(atMicros / 1_000_000)); put32(UInt32(atMicros % 1_000_000))
        put32(UInt32(frame.count)); put32(UInt32(frame.count))
        rec += frame
        try sink.write(rec)
        packetsWritten += 1
    }

    public func flush(sync: Bool = false) throws(CaptureError) { try sink.flush(sync: sync) }
    /// A duplicate of the file's descriptor, for an fsync on another thread (the caller closes it).
    public func duplicateDescriptor() -> Int32? { sink.duplicateDescriptor() }
    public func close() throws(CaptureError) { try sink.close() }
}
