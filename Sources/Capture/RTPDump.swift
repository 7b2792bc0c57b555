import IPAddress
/// rtpdump files as written by rtptools (`rtpdump -F dump`) and Wireshark:
/// `#!rtpplay1.0 address/port\n`, a 16-byte RD_hdr_t (start sec, start usec, source address,
/// port, padding; big-endian), then records of u16 length (incl. the 8-byte record header),
/// u16 plen (RTP length, 0 for RTCP), u32 offset in ms since the start, and the data.
///
/// Arrival = start + offset (ms precision). `flow` = RD_hdr source address/port as the source,
/// the text line's address/port as the destination (rtptools writes the same address in both).
public final class RTPDumpReader: PacketReader {
    public let path: String
    public var warnings: [CaptureWarning] { log.items }
    /// Start of the recording (µs since the epoch), from RD_hdr_t.
    public let startMicros: Int64
    /// The address/port from the `#!rtpplay1.0` line, as written.
    public let lineAddress: String
    public let linePort: UInt16
    /// RD_hdr_t source address (dotted IPv4) and port.
    public let sourceAddress: String
    public let sourcePort: UInt16
    /// Whether the last returned packet was RTCP (plen == 0).
    public private(set) var lastWasRTCP = false
    /// Records whose plen exceeded the stored data (header-only dumps); returned as stored.
    public private(set) var partialRecords = 0

    private let src: ByteSource
    private var log = WarningLog()
    private var done = false
    private var failure = StickyFailure()
    private let flow: UDPFlow
    static let maxLine = 1024

    public init(path: String) throws(CaptureError) {
        self.path = path
        src = try ByteSource(path: path)
        let magic = Array("#!rtpplay1.0 ".utf8)
        _ = src.ensure(RTPDumpReader.maxLine)
        guard src.available >= magic.count, src.bytes(0, magic.count) == magic else {
            throw CaptureError(path: path, offset: 0,
                               reason: "wrong magic \(describeBytes(src.peekBytes(12))), expected \"#!rtpplay1.0 \"")
        }
        var nl = -1
        for i in magic.count..<src.available where src.u8(i) == 0x0A { nl = i; break }
        guard nl >= 0 else {
            throw CaptureError(path: path, offset: 0,
                               reason: src.available < RTPDumpReader.maxLine ? "file ends inside the #!rtpplay1.0 line"
                                   : "#!rtpplay1.0 line longer than \(RTPDumpReader.maxLine) bytes")
        }
        let line = String(decoding: src.bytes(magic.count, nl - magic.count), as: UTF8.self)
            .trimmingSuffix { $0 == "\r" || $0 == " " }
        guard let slash = line.lastIndex(of: "/"), let port = UInt16(line[line.index(after: slash)...]) else {
            throw CaptureError(path: path, offset: Int64(magic.count), reason: "bad address/port \"\(line)\" in the #!rtpplay1.0 line")
        }
        lineAddress = String(line[..<slash])
        linePort = port
        src.consume(nl + 1)
        guard src.ensure(16) else {
            throw CaptureError(path: path, offset: src.offset,
                               reason: "file too short for the 16-byte rtpdump header (\(src.available) bytes)")
        }
        let sec = Int64(src.u32be(0)), usec = Int64(src.u32be(4))
        guard usec < 1_000_000 else {
            throw CaptureError(path: path, offset: src.offset + 4, reason: "start microseconds \(usec) out of range")
        }
        startMicros = sec * 1_000_000 + usec
        sourceAddress = IPAddressText.ipv4(src.bytes(8, 4))
        sourcePort = src.u16be(12)
        src.consume(16)
        flow = UDPFlow(source: sourceAddress, sourcePort: sourcePort, destination: lineAddress, destinationPort: linePort)
    }

    public func next() throws(CaptureError) -> CapturedPacket? {
        try failure.guarding { () throws(CaptureError) in try readNext() }
    }

    private func readNext() throws(CaptureError) -> CapturedPacket? {
        if done { return nil }
        let at = src.offset
        guard src.ensure(8) else {
            done = true
            if src.available > 0 {
                log.add(CaptureWarning(path: path, offset: at,
                                       reason: "truncated record header (\(src.available) of 8 bytes); stream ends here"))
            }
            return nil
        }
        let length = Int(src.u16be(0))
        let plen = Int(src.u16be(2))
        let offsetMs = Int64(src.u32be(4))
        guard length > 8 else {
            throw CaptureError(path: path, offset: at, reason: "record length \(length) (must exceed the 8-byte record header)")
        }
        guard src.ensure(length) else {
            done = true
            log.add(CaptureWarning(path: path, offset: at,
                                   reason: "truncated last record (\(src.available - 8) of \(length - 8) bytes); stream ends here"))
            return nil
        }
        if plen > length - 8 { partialRecords += 1 }
        let data = src.bytes(8, length - 8)
        src.consume(length)
        lastWasRTCP = plen == 0
        return CapturedPacket(arrivalMicros: startMicros + offsetMs * 1000, data: data, flow: flow)
    }

    public func close() { src.close() }
}

extension String {
    fileprivate func trimmingSuffix(while pred: (Character) -> Bool) -> String {
        var s = Substring(self)
        while let l = s.last, pred(l) { s = s.dropLast() }
        return String(s)
    }
}

/// Writes rtpdump files in rtptools' `-F dump` format.
public final class RTPDumpWriter {
    public let path: String
    public let startMicros: Int64
    public private(set) var packetsWritten = 0
    private let sink: FileSink
    private var rec: [UInt8] = []

    /// `source`/`port` go into both the `#!rtpplay1.0` line and RD_hdr_t (the address there is
    /// IPv4 only; 0.0.0.0 when `source` is not IPv4 text).
    public init(path: String, source: String, port: UInt16, startMicros: Int64) throws(CaptureError) {
        guard startMicros >= 0, startMicros / 1_000_000 <= Int64(UInt32.max) else {
            throw CaptureError(path: path, offset: 0, reason: "start time \(startMicros) µs does not fit an rtpdump header")
        }
        guard !source.contains("\n"), !source.isEmpty else {
            throw CaptureError(path: path, offset: 0, reason: "bad source address \"\(source)\"")
        }
        self.path = path
        self.startMicros = startMicros
        sink = try FileSink(path: path)
        var h = Array("#!rtpplay1.0 \(source)/\(port)\n".utf8)
        h.appendBE32(UInt32(startMicros / 1_000_000))
        h.appendBE32(UInt32(startMicros % 1_000_000))
        h += IPAddressText.parseIPv4(source) ?? [0, 0, 0, 0]
        h.appendBE16(port)
        h.appendBE16(0)
        try sink.write(h)
    }

    /// Appends one packet. The offset is stored in ms since the start (times before it become 0).
    public func write(_ data: [UInt8], isRTCP: Bool, atMicros: Int64) throws(CaptureError) {
        guard !data.isEmpty, data.count <= 65535 - 8 else {
            throw CaptureError(path: path, offset: sink.written, reason: "packet length \(data.count) does not fit an rtpdump record")
        }
        let ms = atMicros > startMicros ? (atMicros - startMicros) / 1000 : 0
        guard ms <= Int64(UInt32.max) else {
            throw CaptureError(path: path, offset: sink.written, reason: "time offset \(ms) ms does not fit an rtpdump record")
        }
        rec.removeAll(keepingCapacity: true)
        rec.appendBE16(UInt16(data.count + 8))
        rec.appendBE16(isRTCP ? 0 : UInt16(data.count))
        rec.appendBE32(UInt32(ms))
        rec += data
        try sink.write(rec)
        packetsWritten += 1
    }

    public func flush(sync: Bool = false) throws(CaptureError) { try sink.flush(sync: sync) }
    public func close() throws(CaptureError) { try sink.close() }
}
