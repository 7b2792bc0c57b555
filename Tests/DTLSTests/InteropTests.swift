import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import DTLS
import SRTP

/// Interop with a peer we did not write: the `openssl s_server` command over real UDP on loopback.
/// It sends a HelloVerifyRequest (cookie exchange), negotiates use_srtp, and prints its own RFC 5764
/// exporter output, which must equal ours byte for byte.
@Suite struct OpenSSLServerInteropTests {
    static let openssl = "/usr/bin/openssl"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: openssl)), .timeLimit(.minutes(1)))
    func handshakeWithOpenSSLServer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowrec-dtls-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("c.pem").path, key = dir.appendingPathComponent("k.pem").path
        _ = try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                     "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=peer"])
        let fingerprintLine = try run(["x509", "-noout", "-fingerprint", "-sha256", "-in", cert])
        let serverFingerprint = try #require(fingerprintLine.split(separator: "=").last).trimmingCharacters(in: .whitespacesAndNewlines)

        let port = UInt16.random(in: 20_000...60_000)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.openssl)
        server.arguments = ["s_server", "-dtls1_2", "-accept", "127.0.0.1:\(port)", "-cert", cert, "-key", key,
                            "-use_srtp", "SRTP_AEAD_AES_128_GCM", "-keymatexport", "EXTRACTOR-dtls_srtp",
                            "-keymatexportlen", "56", "-verify", "1", "-naccept", "1"]
        let out = Pipe(), input = Pipe()
        server.standardOutput = out
        server.standardError = out
        server.standardInput = input
        try server.run()
        defer { if server.isRunning { server.terminate() } }

        let client = try DTLSEndpoint(role: .client, certificate: DTLSCertificate.generate(),
                                      remoteFingerprint: serverFingerprint, options: .init(initialRetransmitMillis: 100))
        let socket = try UDPSocket(connectingTo: port)
        let clock = ContinuousClock(), start = clock.now
        func now() -> Int64 { Int64((clock.now - start) / .milliseconds(1)) }
        for d in client.start(nowMillis: now()) { socket.send(d) }
        while now() < 10_000, case .connecting = client.state {
            if let d = socket.receive() {
                for o in client.receive(d, nowMillis: now()).outgoing { socket.send(o) }
            } else if let t = client.nextTimeoutMillis, now() >= t {
                for o in client.handleTimeout(nowMillis: now()) { socket.send(o) }  // also covers a slow server start
            }
        }
        let material = try #require(keys(client), "state: \(client.state)")
        #expect(material.profile == .aeadAes128Gcm)
        #expect(client.peerFingerprint == serverFingerprint)
        for d in client.close() { socket.send(d) }

        // With -naccept 1 the server exits after the connection closes, flushing its output.
        while server.isRunning && now() < 15_000 { usleep(20_000) }
        if server.isRunning { server.terminate() }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let line = try #require(text.split(separator: "\n").first { $0.contains("Keying material:") }, "s_server said: \(text)")
        let theirs = line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)
        let ours = try #require(client.exportedKeyingMaterial).map { String(format: "%02X", $0) }.joined()
        #expect(theirs == ours)
        #expect(text.contains("SRTP_AEAD_AES_128_GCM"))
    }

    private func run(_ arguments: [String]) throws -> String {
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: Self.openssl)
        p.arguments = arguments
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A connected loopback UDP socket with a 20 ms receive timeout.
final class UDPSocket {
    let fd: Int32

    init(connectingTo port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var tv = timeval(tv_sec: 0, tv_usec: 20_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard r == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ d: [UInt8]) { _ = d.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }

    /// One datagram, or nil on timeout / ICMP unreachable (server not up yet).
    func receive() -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Array(buf[0..<n])
    }
}
