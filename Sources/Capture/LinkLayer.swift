import IPAddress
/// Link-layer types understood by the pcap and pcapng readers.
public enum LinkType: UInt32, Sendable {
    case null = 0            // BSD loopback: 4-byte address family, host byte order
    case ethernet = 1        // with 802.1Q / 802.1ad VLAN tags
    case rawLegacy12 = 12    // raw IP (OpenBSD value)
    case rawLegacy14 = 14    // raw IP (some BSDs)
    case raw = 101           // raw IP, version from the first nibble
    case loop = 108          // OpenBSD loopback: family in network byte order
    case linuxSLL = 113
    case ipv4 = 228
    case ipv6 = 229
    case linuxSLL2 = 276
}

/// Why a frame gave no UDP payload.
enum DecodeSkip {
    case notUDP       // other protocol: skipped silently, counted
    case fragment     // IPv4/IPv6 fragment: skipped, counted
    case truncated(String)  // capture cut the packet short: skipped with a warning
    case malformed(String)  // inconsistent headers: skipped with a warning
}

enum DecodeResult {
    case udp(UDPFlow, Range<Int>)  // payload range within the frame
    case skip(DecodeSkip)
}

/// Decodes one captured frame down to its UDP payload. Pure index arithmetic on the buffer.
/// `origLen` is the frame's length on the wire (to tell truncation from malformation).
func decodeFrame(_ p: UnsafeBufferPointer<UInt8>, linkType: LinkType, origLen: Int) -> DecodeResult {
    let n = p.count
    func be16(_ i: Int) -> Int { Int(p[i]) << 8 | Int(p[i + 1]) }
    let truncatedCapture = origLen > n
    func short(_ what: String) -> DecodeResult {
        .skip(truncatedCapture ? .truncated("\(what) cut short by the capture length (\(n) of \(origLen) bytes)")
                               : .malformed("\(what) shorter than its headers"))
    }
    var ip = 0
    var version = 0  // 4, 6, or 0 = decide from nibble
    switch linkType {
    case .null, .loop:
        guard n >= 4 else { return short("loopback header") }
        ip = 4
    case .ethernet:
        guard n >= 14 else { return short("Ethernet header") }
        var et = be16(12)
        ip = 14
        var tags = 0
        while et == 0x8100 || et == 0x88A8 || et == 0x9100 {
            tags += 1
            guard tags <= 4 else { return .skip(.malformed("too many VLAN tags")) }
            guard n >= ip + 4 else { return short("VLAN tag") }
            et = be16(ip + 2)
            ip += 4
        }
        switch et {
        case 0x0800: version = 4
        case 0x86DD: version = 6
        default: return .skip(.notUDP)
        }
    case .raw, .rawLegacy12, .rawLegacy14:
        ip = 0
    case .ipv4: version = 4
    case .ipv6: version = 6
    case .linuxSLL:
        guard n >= 16 else { return short("Linux SLL header") }
        ip = 16
        switch be16(14) {
        case 0x0800: version = 4
        case 0x86DD: version = 6
        default: return .skip(.notUDP)
        }
    case .linuxSLL2:
        guard n >= 20 else { return short("Linux SLL2 header") }
        ip = 20
        switch be16(0) {
        case 0x0800: version = 4
        case 0x86DD: version = 6
        default: return .skip(.notUDP)
        }
    }
    guard n > ip else { return short("IP header") }
    let nibble = Int(p[ip] >> 4)
    if version == 0 {
        guard nibble == 4 || nibble == 6 else { return .skip(.notUDP) }
        version = nibble
    } else if nibble != version {
        return .skip(.malformed("IP version \(nibble) where IPv\(version) was announced"))
    }
    // Bytes of the IP packet actually on the wire / in the capture.
    let wireIP = origLen - ip
    var udp: Int
    var ipEnd: Int  // end of the IP packet within the frame (trims Ethernet padding)
    var src: String, dst: String
    if version == 4 {
        guard n >= ip + 20 else { return short("IPv4 header") }
        let ihl = Int(p[ip] & 0x0F) * 4
        guard ihl >= 20 else { return .skip(.malformed("IPv4 header length \(ihl)")) }
        guard n >= ip + ihl else { return short("IPv4 options") }
        let total = be16(ip + 2)
        guard total >= ihl else { return .skip(.malformed("IPv4 total length \(total) below its header length")) }
        if total > wireIP && !truncatedCapture { return .skip(.malformed("IPv4 total length \(total) beyond the frame (\(wireIP) bytes)")) }
        let flagsFrag = be16(ip + 6)
        if flagsFrag & 0x3FFF != 0 { return .skip(.fragment) }  // MF set or offset != 0
        guard p[ip + 9] == 17 else { return .skip(.notUDP) }
        src = IPAddressText.ipv4(UnsafeBufferPointer(rebasing: p[(ip + 12)..<(ip + 16)]))
        dst = IPAddressText.ipv4(UnsafeBufferPointer(rebasing: p[(ip + 16)..<(ip + 20)]))
        udp = ip + ihl
        ipEnd = ip + total
    } else {
        guard n >= ip + 40 else { return short("IPv6 header") }
        let payloadLen = be16(ip + 4)
        var next = Int(p[ip + 6])
        if payloadLen == 0 { return .skip(.notUDP) }  // jumbogram: not supported
        if 40 + payloadLen > wireIP && !truncatedCapture {
            return .skip(.malformed("IPv6 payload length \(payloadLen) beyond the frame"))
        }
        src = IPAddressText.ipv6(UnsafeBufferPointer(rebasing: p[(ip + 8)..<(ip + 24)]))
        dst = IPAddressText.ipv6(UnsafeBufferPointer(rebasing: p[(ip + 24)..<(ip + 40)]))
        ipEnd = ip + 40 + payloadLen
        var h = ip + 40
        var hops = 0
        while next != 17 {
            hops += 1
            if hops > 8 { return .skip(.malformed("too many IPv6 extension headers")) }
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard n >= h + 2 else { return short("IPv6 extension header") }
                let l = (Int(p[h + 1]) + 1) * 8
                next = Int(p[h])
                h += l
            case 51:  // AH
                guard n >= h + 2 else { return short("IPv6 AH header") }
                let l = (Int(p[h + 1]) + 2) * 4
                next = Int(p[h])
                h += l
            case 44: return .skip(.fragment)
            default: return .skip(.notUDP)
            }
            if h > ipEnd { return .skip(.malformed("IPv6 extension headers run past the payload")) }
        }
        udp = h
    }
    guard n >= udp + 8 else { return short("UDP header") }
    let sport = UInt16(be16(udp)), dport = UInt16(be16(udp + 2))
    let ulen = be16(udp + 4)
    guard ulen >= 8 else { return .skip(.malformed("UDP length \(ulen)")) }
    guard udp + ulen <= ipEnd else { return .skip(.malformed("UDP length \(ulen) runs past the IP packet")) }
    guard udp + ulen <= n else {
        return .skip(.truncated("UDP payload cut short by the capture length (\(n) of \(origLen) bytes)"))
    }
    return .udp(UDPFlow(source: src, sourcePort: sport, destination: dst, destinationPort: dport), (udp + 8)..<(udp + ulen))
}

/// Counters shared by the pcap and pcapng readers.
public struct CaptureStats: Sendable, Equatable {
    /// Frames that were not UDP over IPv4/IPv6 (skipped silently).
    public var nonUDP = 0
    /// IP fragments (skipped: fragmented UDP is not reassembled).
    public var fragments = 0
    /// Frames cut short by the capture's snap length or inconsistent (skipped with a warning).
    public var damaged = 0
    /// UDP packets returned.
    public var packets = 0
}
