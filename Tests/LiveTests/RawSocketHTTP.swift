import Foundation

/// A response as read off the wire.
struct RawReply {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }

    subscript(header name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

enum RawSocketError: Error {
    case system(String, Int32)
    case closedEarly
    case malformed(String)
}

/// A deliberately small blocking HTTP/1.1 client over one TCP socket to 127.0.0.1: requests go out
/// as raw text, responses are framed by Content-Length. Every read times out after 5 s.
final class RawSocket {
    private let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        #if os(Linux)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw RawSocketError.system("socket", errno) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let error = errno
            Foundation.close(fd)
            throw RawSocketError.system("connect", error)
        }
    }

    deinit { Foundation.close(fd) }

    func sendText(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawSocketError.system("send", errno) }
            sent += n
        }
    }

    /// A request with CRLF line ends (HTTP/1.1, Host set) and a Content-Length when there is a body.
    func request(_ method: String, _ path: String, version: String = "HTTP/1.1", headers: [String] = [],
                 body: String? = nil) throws {
        var lines = ["\(method) \(path) \(version)", "Host: 127.0.0.1"] + headers
        if let body { lines.append("Content-Length: \(body.utf8.count)") }
        try sendText(lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? ""))
    }

    /// Reads one response; `bodyless` for the answer to HEAD.
    func readReply(bodyless: Bool = false) throws -> RawReply {
        let headEnd = try fill { Self.find([13, 10, 13, 10], in: $0) }
        let headText = String(decoding: pending[..<headEnd], as: UTF8.self)
        pending.removeFirst(headEnd + 4)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw RawSocketError.malformed(headText)
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw RawSocketError.malformed(line) }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " })))
        }
        var reply = RawReply(status: status, headers: headers, body: [])
        guard !bodyless else { return reply }
        guard let lengthText = reply[header: "Content-Length"], let length = Int(lengthText) else {
            throw RawSocketError.malformed("no Content-Length: \(headText)")
        }
        _ = try fill { $0.count >= length ? length : nil }
        reply.body = Array(pending.prefix(length))
        pending.removeFirst(length)
        return reply
    }

    /// Reads until the server closes; returns what came after the last response.
    func readToEnd() throws -> [UInt8] {
        while try readChunk() {}
        defer { pending.removeAll() }
        return pending
    }

    private func fill(_ done: ([UInt8]) -> Int?) throws -> Int {
        while true {
            if let found = done(pending) { return found }
            guard try readChunk() else { throw RawSocketError.closedEarly }
        }
    }

    /// Appends what the socket has to `pending`; false at the end of the stream (or a reset).
    private func readChunk() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n > 0 {
                pending += buffer[..<n]
                return true
            }
            if n == 0 { return false }
            let error = errno
            if error == EINTR { continue }
            if error == ECONNRESET { return false }
            throw RawSocketError.system("recv", error)
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
