import NIOCore
import NIOPosix
import WHIP

/// A response as read off the wire.
struct RawResponse {
    var status: Int
    var headers: WHIPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

enum RawHTTPError: Error {
    case closedEarly
    case malformed(String)
}

/// A deliberately small HTTP/1.1 client over one TCP connection: requests go out as raw text,
/// responses are framed by Content-Length (or by close).
final class RawConnection {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var pending: [UInt8] = []
    private var ended = false

    init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
         outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Opens a connection to 127.0.0.1:`port`, runs `body`, closes.
    static func with<T>(port: Int, _ body: (RawConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound))
        }
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// A request with CRLF line ends and a Content-Length when there is a body.
    func request(_ method: String, _ path: String, headers: [String] = [], body: String? = nil) async throws {
        var lines = ["\(method) \(path) HTTP/1.1", "Host: 127.0.0.1"] + headers
        if let body { lines.append("Content-Length: \(body.utf8.count)") }
        try await send(lines.joined(separator: "\r\n") + "\r\n\r\n" + (body ?? ""))
    }

    /// Reads one response.
    func readResponse() async throws -> RawResponse {
        let headEnd = try await fill { Self.find([13, 10, 13, 10], in: $0) }
        let headText = String(decoding: pending[..<headEnd], as: UTF8.self)
        pending.removeFirst(headEnd + 4)
        var lines = headText.split(separator: "\r\n").map(String.init)
        guard !lines.isEmpty else { throw RawHTTPError.malformed(headText) }
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw RawHTTPError.malformed(headText)
        }
        var headers = WHIPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw RawHTTPError.malformed(line) }
            headers.add(String(line[..<colon]), String(line[line.index(after: colon)...].drop { $0 == " " }))
        }
        let length: Int
        if let declared = headers["Content-Length"] {
            guard let value = Int(declared) else { throw RawHTTPError.malformed(declared) }
            length = value
        } else if status == 204 || status == 304 || status < 200 {
            length = 0
        } else {
            try await drain() // the body runs until close
            length = pending.count
        }
        _ = try await fill { $0.count >= length ? length : nil }
        let body = Array(pending.prefix(length))
        pending.removeFirst(length)
        return RawResponse(status: status, headers: headers, body: body)
    }

    /// Reads until the server closes; returns what came (nothing, after a complete response).
    func readToEnd() async throws -> [UInt8] {
        try await drain()
        defer { pending.removeAll() }
        return pending
    }

    /// Reads until `done` finds what it needs in `pending`.
    /// - Throws: `RawHTTPError.closedEarly` if the connection ends first.
    private func fill(_ done: ([UInt8]) -> Int?) async throws -> Int {
        while true {
            if let found = done(pending) { return found }
            guard try await readChunk() else { throw RawHTTPError.closedEarly }
        }
    }

    /// Reads until the connection ends.
    private func drain() async throws {
        while try await readChunk() {}
    }

    /// Appends the next chunk to `pending`; false at the end of the stream.
    private func readChunk() async throws -> Bool {
        guard !ended, let chunk = try await inbound.next() else {
            ended = true
            return false
        }
        pending += Array(buffer: chunk)
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
