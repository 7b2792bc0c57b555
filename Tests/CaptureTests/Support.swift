import Foundation
import Testing
@testable import Capture

/// A temp directory removed when the value is released.
final class TempDir: @unchecked Sendable {
    let path: String
    init() {
        var template = Array((NSTemporaryDirectory() + "/capturetests-XXXXXX").utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

func readAll(_ path: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path) ?? Data()) }

/// Reads every packet (bounded), returning packets and the error if one was thrown.
func drain(_ r: any PacketReader, max: Int = 1_000_000) -> (packets: [CapturedPacket], error: CaptureError?) {
    var out: [CapturedPacket] = []
    while out.count < max {
        do {
            guard let p = try r.next() else { return (out, nil) }
            out.append(p)
        } catch {
            return (out, error)
        }
    }
    return (out, nil)
}

/// A minimal RTP packet: V=2, given PT/seq/ts/ssrc, payload.
func rtp(pt: UInt8 = 111, seq: UInt16, ts: UInt32, ssrc: UInt32 = 0x1234_5678, marker: Bool = false, payload: [UInt8]) -> [UInt8] {
    var b: [UInt8] = [0x80, (marker ? 0x80 : 0) | pt]
    b.be16(seq); b.be32(ts); b.be32(ssrc)
    return b + payload
}

extension Array where Element == UInt8 {
    mutating func be16(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    mutating func be32(_ v: UInt32) { for s in [24, 16, 8, 0] { append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    mutating func le16(_ v: UInt16) { append(UInt8(v & 0xFF)); append(UInt8(v >> 8)) }
    mutating func le32(_ v: UInt32) { for s in [0, 8, 16, 24] { append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    mutating func u16(_ v: UInt16, big: Bool) { big ? be16(v) : le16(v) }
    mutating func u32(_ v: UInt32, big: Bool) { big ? be32(v) : le32(v) }
}

// MARK: - hand-built network frames (independent of the writers)

func udpHeader(_ sport: UInt16, _ dport: UInt16, _ payload: [UInt8]) -> [UInt8] {
    var u: [UInt8] = []
    u.be16(sport); u.be16(dport); u.be16(UInt16(payload.count + 8)); u.be16(0)
    return u + payload
}

func ipv4(_ src: [UInt8], _ dst: [UInt8], proto: UInt8 = 17, options: [UInt8] = [], fragment: UInt16 = 0, _ body: [UInt8]) -> [UInt8] {
    precondition(options.count % 4 == 0)
    let ihl = 20 + options.count
    var h: [UInt8] = [UInt8(0x40 | (ihl / 4)), 0]
    h.be16(UInt16(ihl + body.count)); h.be16(7); h.be16(fragment)
    h += [64, proto, 0, 0] + src + dst + options
    return h + body
}

func ipv6(_ src: [UInt8], _ dst: [UInt8], ext: [(UInt8, [UInt8])] = [], last: UInt8 = 17, _ body: [UInt8]) -> [UInt8] {
    // ext: (this header's type, its body after the next/len bytes), chained before `last`.
    var exts: [UInt8] = []
    let types = ext.map { $0.0 } + [last]
    for (k, e) in ext.enumerated() {
        let total = 2 + e.1.count
        precondition(total % 8 == 0)
        exts += [types[k + 1], UInt8(total / 8 - 1)] + e.1
    }
    var h: [UInt8] = [0x60, 0, 0, 0]
    h.be16(UInt16(exts.count + body.count))
    h += [types[0], 64] + src + dst
    return h + exts + body
}

func ethernet(type: UInt16, vlans: [UInt16] = [], _ body: [UInt8]) -> [UInt8] {
    var f: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    for v in vlans { f.be16(0x8100); f.be16(v) }
    f.be16(type)
    return f + body
}

func sll(proto: UInt16, _ body: [UInt8]) -> [UInt8] {
    var f: [UInt8] = [0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0]
    f.be16(proto)
    return f + body
}

func sll2(proto: UInt16, _ body: [UInt8]) -> [UInt8] {
    var f: [UInt8] = []
    f.be16(proto); f.be16(0); f.be32(2); f.be16(1); f += [0, 6]; f += [1, 2, 3, 4, 5, 6, 0, 0]
    return f + body
}

let v4a: [UInt8] = [10, 0, 0, 1], v4b: [UInt8] = [192, 168, 1, 20]
let v6a: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
let v6b: [UInt8] = [UInt8](repeating: 0, count: 15) + [1]

struct PcapRecord {
    var sec: UInt32
    var frac: UInt32
    var data: [UInt8]
    var origLen: UInt32? = nil
}

func pcapFile(linkType: UInt32, big: Bool = false, nano: Bool = false, snaplen: UInt32 = 65535, _ recs: [PcapRecord]) -> [UInt8] {
    var b: [UInt8] = []
    b.u32(nano ? 0xA1B2_3C4D : 0xA1B2_C3D4, big: big)
    b.u16(2, big: big); b.u16(4, big: big); b.u32(0, big: big); b.u32(0, big: big)
    b.u32(snaplen, big: big); b.u32(linkType, big: big)
    for r in recs {
        b.u32(r.sec, big: big); b.u32(r.frac, big: big)
        b.u32(UInt32(r.data.count), big: big); b.u32(r.origLen ?? UInt32(r.data.count), big: big)
        b += r.data
    }
    return b
}

// pcapng blocks
func block(_ type: UInt32, _ body: [UInt8], big: Bool) -> [UInt8] {
    var body = body
    while body.count % 4 != 0 { body.append(0) }
    var b: [UInt8] = []
    b.u32(type, big: big); b.u32(UInt32(body.count + 12), big: big)
    b += body
    b.u32(UInt32(body.count + 12), big: big)
    return b
}

func shb(big: Bool) -> [UInt8] {
    var body: [UInt8] = []
    body.u32(0x1A2B_3C4D, big: big); body.u16(1, big: big); body.u16(0, big: big)
    body += [UInt8](repeating: 0xFF, count: 8)  // section length -1
    return block(0x0A0D_0D0A, body, big: big)
}

func option(_ code: UInt16, _ value: [UInt8], big: Bool) -> [UInt8] {
    var o: [UInt8] = []
    o.u16(code, big: big); o.u16(UInt16(value.count), big: big)
    o += value
    while o.count % 4 != 0 { o.append(0) }
    return o
}

func idb(linkType: UInt16, snaplen: UInt32 = 0, tsresol: UInt8? = nil, tsoffset: Int64? = nil, big: Bool) -> [UInt8] {
    var body: [UInt8] = []
    body.u16(linkType, big: big); body.u16(0, big: big); body.u32(snaplen, big: big)
    var opts: [UInt8] = []
    opts += option(2, Array("eth0".utf8), big: big)  // if_name
    if let r = tsresol { opts += option(9, [r], big: big) }
    if let o = tsoffset {
        var v: [UInt8] = []
        let u = UInt64(bitPattern: o)
        v.u32(UInt32(u >> 32), big: big); v.u32(UInt32(u & 0xFFFF_FFFF), big: big)
        if !big { v = Array(v[4..<8]) + Array(v[0..<4]) }  // little-endian 64-bit
        opts += option(14, v, big: big)
    }
    if !opts.isEmpty { opts += [0, 0, 0, 0] }
    return block(1, body + opts, big: big)
}

func epb(iface: UInt32, ts: UInt64, _ data: [UInt8], origLen: UInt32? = nil, big: Bool) -> [UInt8] {
    var body: [UInt8] = []
    body.u32(iface, big: big); body.u32(UInt32(ts >> 32), big: big); body.u32(UInt32(ts & 0xFFFF_FFFF), big: big)
    body.u32(UInt32(data.count), big: big); body.u32(origLen ?? UInt32(data.count), big: big)
    body += data
    while body.count % 4 != 0 { body.append(0) }
    body += option(1, Array("comment".utf8), big: big) + [0, 0, 0, 0]
    return block(6, body, big: big)
}

func spb(_ data: [UInt8], big: Bool) -> [UInt8] {
    var body: [UInt8] = []
    body.u32(UInt32(data.count), big: big)
    return block(3, body + data, big: big)
}

/// Checks an error or warning text names the file and a byte offset.
func expectNamesFileAndOffset(_ text: String, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(text.contains(path), "message should name the file: \(text)", sourceLocation: sourceLocation)
    #expect(text.contains(": byte "), "message should give a byte offset: \(text)", sourceLocation: sourceLocation)
}

func which(_ tool: String) -> String? {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin"] {
        let p = dir + "/" + tool
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// Runs a tool, returning exit status and combined output.
func run(_ tool: String, _ args: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: tool)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
