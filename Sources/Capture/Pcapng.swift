/// pcapng files: SHB/IDB/EPB/SPB and the obsolete PB; other blocks are skipped.
/// Per-interface link type, `if_tsresol` and `if_tsoffset`; both byte orders; several sections.
///
/// Simple Packet Blocks carry no time: they get the last timestamp seen (0 before any), with a
/// warning once. Packets on interfaces with an unsupported link type are skipped with one warning
/// per interface. Same UDP/fragment/truncation rules as `PcapReader`.
public final class PcapngReader: PacketReader {
    public let path: String
    public var warnings: [CaptureWarning] { log.items }
    public private(set) var stats = CaptureStats()
    /// Number of sections (SHBs) seen so far.
    public private(set) var sectionCount = 0

    struct Interface {
        var linkType: LinkType?
        var rawLinkType: UInt16
        var snapLength: UInt32
        var unitsPerSecond: UInt64 = 1_000_000
        var offsetSeconds: Int64 = 0
        var warned = false
    }

    static let blockSHB: UInt32 = 0x0A0D_0D0A
    /// Largest block read into memory (SHB, IDB, packet blocks). Other blocks are skipped in chunks.
    static let maxInMemoryBlock = 1 << 20

    private let src: ByteSource
    private var log = WarningLog()
    private var done = false
    private var failure = StickyFailure()
    private var big = false
    private var interfaces: [Interface] = []
    private var lastMicros: Int64 = 0
    private var warnedSPB = false

    public var bufferCapacity: Int { src.capacity }

    public init(path: String) throws(CaptureError) {
        self.path = path
        src = try ByteSource(path: path)
        guard src.ensure(12) else {
            throw CaptureError(path: path, offset: 0,
                               reason: "file too short for a pcapng section header (\(src.available) bytes)")
        }
        guard src.u32be(0) == PcapngReader.blockSHB else {
            throw CaptureError(path: path, offset: 0,
                               reason: "wrong magic \(describeBytes(src.bytes(0, 4))), expected pcapng section header 0a 0d 0d 0a")
        }
        // Validate the first section header now so a bad file fails at open.
        guard try readBlock(firstOnly: true) == nil, sectionCount == 1 else {
            throw CaptureError(path: path, offset: 0, reason: "cannot read the first section header")
        }
    }

    public func next() throws(CaptureError) -> CapturedPacket? {
        try failure.guarding { () throws(CaptureError) in
            while !done {
                if let p = try readBlock(firstOnly: false) { return p }
            }
            return nil
        }
    }

    private func truncated(_ at: Int64, _ what: String) -> CapturedPacket? {
        done = true
        log.add(CaptureWarning(path: path, offset: at, reason: "\(what); stream ends here"))
        return nil
    }

    /// Reads one block; returns a packet if it held a UDP datagram.
    private func readBlock(firstOnly: Bool) throws(CaptureError) -> CapturedPacket? {
        let at = src.offset
        guard src.ensure(8) else {
            if src.available > 0 { return truncated(at, "truncated block header (\(src.available) of 8 bytes)") }
            done = true
            return nil
        }
        var type = src.u32(0, big: big)
        if src.u32be(0) == PcapngReader.blockSHB {
            type = PcapngReader.blockSHB
            guard src.ensure(12) else { return truncated(at, "truncated section header") }
            switch src.u32be(8) {
            case 0x1A2B_3C4D: big = true
            case 0x4D3C_2B1A: big = false
            default:
                throw CaptureError(path: path, offset: at + 8,
                                   reason: "bad byte-order magic \(describeBytes(src.bytes(8, 4))) in section header")
            }
        }
        let total = Int(src.u32(4, big: big))
        guard total >= 12, total % 4 == 0 else {
            throw CaptureError(path: path, offset: at + 4, reason: "block length \(total) is invalid (must be >= 12 and a multiple of 4)")
        }
        let inMemory = type == PcapngReader.blockSHB || type == 1 || type == 2 || type == 3 || type == 6
        if !inMemory {
            // Skip unknown/unused blocks without reading them into memory.
            src.consume(8)
            if !src.skip(Int64(total - 8)) {
                return truncated(at, "truncated block of type 0x\(String(type, radix: 16)) (length \(total))")
            }
            return nil
        }
        guard total <= PcapngReader.maxInMemoryBlock else {
            throw CaptureError(path: path, offset: at + 4,
                               reason: "block length \(total) of a type 0x\(String(type, radix: 16)) block is too large (limit \(PcapngReader.maxInMemoryBlock))")
        }
        guard src.ensure(total) else {
            return truncated(at, "truncated last block (\(src.available) of \(total) bytes)")
        }
        let trailer = Int(src.u32(total - 4, big: big))
        guard trailer == total else {
            throw CaptureError(path: path, offset: at + Int64(total) - 4,
                               reason: "block trailer length \(trailer) does not match the header length \(total)")
        }
        defer { src.consume(total) }
        let bodyEnd = total - 4
        switch type {
        case PcapngReader.blockSHB:
            guard total >= 28 else { throw CaptureError(path: path, offset: at + 4, reason: "section header block length \(total) is too short") }
            let major = src.u16(12, big: big)
            guard major == 1 else {
                throw CaptureError(path: path, offset: at + 12, reason: "unsupported pcapng version \(major).\(src.u16(14, big: big))")
            }
            interfaces.removeAll()
            sectionCount += 1
            return nil
        case 1:  // IDB
            if firstOnly { break }
            guard total >= 20 else { throw CaptureError(path: path, offset: at + 4, reason: "interface block length \(total) is too short") }
            let lt = src.u16(8, big: big)
            var iface = Interface(linkType: LinkType(rawValue: UInt32(lt)), rawLinkType: lt, snapLength: src.u32(12, big: big))
            try parseOptions(from: 16, to: bodyEnd, blockAt: at) { (code, vStart, vLen) throws(CaptureError) in
                if code == 9 {
                    guard vLen >= 1 else { return }
                    let r = src.u8(vStart)
                    let exp = Int(r & 0x7F)
                    if r & 0x80 == 0 {
                        guard exp <= 18 else {
                            throw CaptureError(path: path, offset: at + Int64(vStart), reason: "unsupported if_tsresol 10^-\(exp)")
                        }
                        var u: UInt64 = 1
                        for _ in 0..<exp { u *= 10 }
                        iface.unitsPerSecond = u
                    } else {
                        guard exp <= 62 else {
                            throw CaptureError(path: path, offset: at + Int64(vStart), reason: "unsupported if_tsresol 2^-\(exp)")
                        }
                        iface.unitsPerSecond = UInt64(1) << UInt64(exp)
                    }
                } else if code == 14, vLen >= 8 {
                    let hi = UInt64(src.u32(vStart, big: big)), lo = UInt64(src.u32(vStart + 4, big: big))
                    let v = big ? (hi << 32 | lo) : (lo << 32 | hi)
                    let offset = Int64(bitPattern: v)
                    guard offset.magnitude <= UInt64(CaptureTime.maxMicros / 1_000_000) else {
                        throw CaptureError(path: path, offset: at + Int64(vStart), reason: "if_tsoffset \(offset) s out of range")
                    }
                    iface.offsetSeconds = offset
                }
            }
            interfaces.append(iface)
            return nil
        case 6, 2:  // EPB, obsolete PB
            if firstOnly { break }
            guard total >= 32 else { throw CaptureError(path: path, offset: at + 4, reason: "packet block length \(total) is too short") }
            let ifid = type == 6 ? Int(src.u32(8, big: big)) : Int(src.u16(8, big: big))
            let hi = UInt64(src.u32(12, big: big)), lo = UInt64(src.u32(16, big: big))
            let caplen = Int(src.u32(20, big: big))
            let origlen = Int(src.u32(24, big: big))
            guard ifid < interfaces.count else {
                throw CaptureError(path: path, offset: at + 8, reason: "packet for undefined interface \(ifid) (\(interfaces.count) defined)")
            }
            guard caplen <= maxCapturedLength else {
                throw CaptureError(path: path, offset: at + 20, reason: "captured length \(caplen) exceeds the 256 KiB limit")
            }
            let snap = Int(interfaces[ifid].snapLength)
            if snap != 0 && caplen > snap {
                throw CaptureError(path: path, offset: at + 20, reason: "captured length \(caplen) exceeds the interface snap length \(snap)")
            }
            guard 28 + caplen <= bodyEnd else {
                throw CaptureError(path: path, offset: at + 20, reason: "captured length \(caplen) runs past the end of its block (length \(total))")
            }
            guard let micros = toMicros(hi << 32 | lo, interfaces[ifid]) else {
                stats.damaged += 1
                log.add(CaptureWarning(path: path, offset: at + 12, reason: "packet skipped: timestamp \(hi << 32 | lo) (interface \(ifid)) is out of range"))
                return nil
            }
            lastMicros = micros
            return decode(at: at, start: 28, caplen: caplen, origlen: origlen, ifid: ifid, micros: micros)
        case 3:  // SPB
            if firstOnly { break }
            guard total >= 16 else { throw CaptureError(path: path, offset: at + 4, reason: "simple packet block length \(total) is too short") }
            guard !interfaces.isEmpty else {
                throw CaptureError(path: path, offset: at, reason: "simple packet block before any interface description")
            }
            let origlen = Int(src.u32(8, big: big))
            var caplen = min(origlen, bodyEnd - 12)
            let snap = Int(interfaces[0].snapLength)
            if snap != 0 { caplen = min(caplen, snap) }
            if !warnedSPB {
                warnedSPB = true
                log.add(CaptureWarning(path: path, offset: at, reason: "simple packet blocks have no timestamp; using the previous packet's time"))
            }
            return decode(at: at, start: 12, caplen: caplen, origlen: origlen, ifid: 0, micros: lastMicros)
        default:
            break
        }
        if firstOnly && type != PcapngReader.blockSHB {
            throw CaptureError(path: path, offset: at, reason: "first block is not a section header")
        }
        return nil
    }

    private func decode(at: Int64, start: Int, caplen: Int, origlen: Int, ifid: Int, micros: Int64) -> CapturedPacket? {
        guard let lt = interfaces[ifid].linkType else {
            if !interfaces[ifid].warned {
                interfaces[ifid].warned = true
                log.add(CaptureWarning(path: path, offset: at,
                                       reason: "interface \(ifid) has unsupported link type \(interfaces[ifid].rawLinkType); its packets are skipped"))
            }
            stats.nonUDP += 1
            return nil
        }
        let result: DecodeResult = src.withWindow(start + caplen) { w in
            decodeFrame(UnsafeBufferPointer(rebasing: w[start...]), linkType: lt, origLen: max(origlen, caplen))
        }
        switch result {
        case let .udp(flow, range):
            stats.packets += 1
            return CapturedPacket(arrivalMicros: micros, data: src.bytes(start + range.lowerBound, range.count), flow: flow)
        case .skip(.notUDP): stats.nonUDP += 1
        case .skip(.fragment): stats.fragments += 1
        case let .skip(.truncated(m)), let .skip(.malformed(m)):
            stats.damaged += 1
            log.add(CaptureWarning(path: path, offset: at, reason: "packet skipped: \(m)"))
        }
        return nil
    }

    /// The time in µs since the epoch, nil when outside ``CaptureTime/range``.
    private func toMicros(_ ts: UInt64, _ i: Interface) -> Int64? {
        let u = i.unitsPerSecond
        let sec = ts / u, frac = ts % u
        let fracMicros: UInt64
        if u == 1_000_000 {
            fracMicros = frac
        } else {
            let (hi, lo) = frac.multipliedFullWidth(by: 1_000_000)
            fracMicros = u.dividingFullWidth((hi, lo)).quotient
        }
        // `offsetSeconds` was range-checked, so the sum cannot overflow once `sec` is.
        guard sec <= UInt64(CaptureTime.maxMicros / 1_000_000) else { return nil }
        return CaptureTime.micros(seconds: Int64(sec) + i.offsetSeconds, fractionMicros: Int64(fracMicros))
    }

    /// Walks options in [from, to) of the current block; calls `body(code, valueStart, valueLength)`.
    private func parseOptions(from: Int, to: Int, blockAt: Int64,
                              _ body: (Int, Int, Int) throws(CaptureError) -> Void) throws(CaptureError) {
        var i = from
        while i + 4 <= to {
            let code = Int(src.u16(i, big: big))
            let len = Int(src.u16(i + 2, big: big))
            if code == 0 { return }
            let padded = (len + 3) & ~3
            guard i + 4 + padded <= to else {
                throw CaptureError(path: path, offset: blockAt + Int64(i), reason: "option \(code) of length \(len) runs past the end of its block")
            }
            try body(code, i + 4, len)
            i += 4 + padded
        }
    }

    public func close() { src.close() }
}
