import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import ICE

/// Two agents on real UDP sockets relaying through Debian's `coturn`, inside a private network
/// namespace. Needs root, `unshare`, `ip` and `turnserver` (`apt-get install coturn`); skipped
/// otherwise.
///
/// How: the test starts `timeout 60 unshare --net bash <script>`; the script brings up loopback and
/// a veth pair (10.99.0.1 ↔ 10.99.0.2), allows local sources (`accept_local`), writes its PID to a
/// file and execs `turnserver` on 10.99.0.1:3478 (its log to a file). The test then joins that
/// namespace on a thread of its own (`setns` on `/proc/PID/ns/net`) just to create its two UDP
/// sockets there; sockets stay in the namespace they were made in, so the rest of the test (the
/// agents, a `poll(2)` loop) runs anywhere in this process. Nothing is re-executed, so nothing
/// can recurse; `timeout -k 5 60` bounds coturn's life, and the test stops it (SIGKILL to the
/// PIDs it started) when done.
@Suite(.serialized) struct TURNCoturnTests {
    @Test(.enabled(if: CoturnNamespace.available, "needs root, unshare, ip and coturn's turnserver"),
          .timeLimit(.minutes(2)))
    func twoAgentsConnectThroughCoturn() throws {
        let started = ContinuousClock.now
        let namespace = try CoturnNamespace.start()
        defer { namespace.stop() }
        let (socketA, socketB) = try namespace.sockets()
        defer {
            close(socketA.fd)
            close(socketB.fd)
        }
        let server = STUNAddress(ip: CoturnNamespace.serverIP, port: 3478)
        try namespace.waitUntilListening(socket: socketA, server: server)
        let listening = ContinuousClock.now - started

        var options = ICEAgentOptions()
        options.turnServer = TURNServer(address: server, username: "test", password: "secret")
        let a = ICEAgent(role: .controlled, local: .random(), options: options)
        let b = ICEAgent(role: .controlling, local: .random())
        let hostA = try #require(a.addLocalHostCandidate(socketA.address))
        let hostB = try #require(b.addLocalHostCandidate(socketB.address))
        let clock = ContinuousClock()
        let t0 = clock.now
        func now() -> Int64 { Int64((clock.now - t0) / .microseconds(1)) }
        a.gatherRelayed()
        a.finishGathering()
        b.finishGathering()
        // Signalling: credentials and host candidates now, A's relayed candidate trickled when gathered.
        a.setRemoteCredentials(b.localCredentials)
        b.setRemoteCredentials(a.localCredentials)
        a.addRemoteCandidate(hostB)
        a.remoteEndOfCandidates()
        b.addRemoteCandidate(hostA)

        var allocatedMicros: Int64?, connectedMicros: Int64?
        var receivedByA: [[UInt8]] = [], receivedByB: [[UInt8]] = []
        var blocked = 0
        let sides = [(agent: a, socket: socketA, peerHost: hostB.address), (agent: b, socket: socketB, peerHost: hostA.address)]

        /// Runs the two agents for at most `limit` µs, until `done`.
        func run(for limit: Int64, until done: () -> Bool) {
            let end = now() + limit
            while now() < end {
                for side in sides {
                    if let deadline = side.agent.nextDeadlineMicros, deadline <= now() {
                        for t in side.agent.poll(nowMicros: now()) { side.socket.send(t) }
                    }
                }
                for event in a.takeEvents() {
                    switch event {
                    case .localCandidate(let candidate) where candidate.type == .relayed:
                        allocatedMicros = now()
                        b.addRemoteCandidate(candidate)   // trickled
                    case .gatheringComplete:
                        b.remoteEndOfCandidates()
                    default: break
                    }
                }
                _ = b.takeEvents()
                if connectedMicros == nil, a.selectedPair != nil, b.selectedPair != nil { connectedMicros = now() }
                if done() { return }
                var wait = Int64(20_000)
                for side in sides { if let deadline = side.agent.nextDeadlineMicros { wait = min(wait, max(0, deadline - now())) } }
                var fds = [pollfd(fd: socketA.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: socketB.fd, events: Int16(POLLIN), revents: 0)]
                _ = poll(&fds, 2, Int32((wait + 999) / 1000))
                for (index, side) in sides.enumerated() where fds[index].revents != 0 {
                    while let (datagram, from) = side.socket.receive() {
                        // Only the relay may work: host to host is cut.
                        if from == side.peerHost {
                            blocked += 1
                            continue
                        }
                        switch side.agent.receive(datagram, from: from, nowMicros: now()) {
                        case .handled(let replies): for t in replies { side.socket.send(t) }
                        case .applicationData(let data, _): if index == 0 { receivedByA.append(data) } else { receivedByB.append(data) }
                        case .dropped: break
                        }
                    }
                }
            }
        }

        run(for: 15_000_000) { a.selectedPair != nil && b.selectedPair != nil }
        let pairA = try #require(a.selectedPair, "A: \(a.state), \(a.stats)\n\(namespace.log)")
        let pairB = try #require(b.selectedPair, "B: \(b.state), \(b.stats)")
        let relay = try #require(a.relayedCandidate)
        #expect(pairA.local.type == .relayed && pairA.local == relay && pairA.remote.address == hostB.address)
        #expect(pairB.remote.address == relay.address && relay.address.ip == CoturnNamespace.serverIP)
        #expect(relay.related == hostA.address)   // XOR-MAPPED-ADDRESS: no NAT in the namespace
        #expect(blocked > 0)

        // Data both ways, first in Send/Data indications, then (once the channel is bound) ChannelData.
        for round in 0..<20 {
            if let t = a.send([0x17, 0xA0, UInt8(round)]) { socketA.send(t) }
            if let t = b.send([0x17, 0xB0, UInt8(round)]) { socketB.send(t) }
            run(for: 50_000) { false }
        }
        run(for: 2_000_000) { receivedByA.count >= 20 && receivedByB.count >= 20 }
        #expect(receivedByB == (0..<20).map { [0x17, 0xA0, UInt8($0)] })
        #expect(receivedByA == (0..<20).map { [0x17, 0xB0, UInt8($0)] })
        #expect(a.stats.turnChannelBinds == 1 && a.stats.turnPermissions >= 1)
        #expect(a.stats.relayedSent >= 20 && a.stats.relayedReceived >= 20)
        #expect(a.stats.turnErrorResponses == 0 && a.stats.turnTimeouts == 0 && a.stats.integrityFailures == 0)

        // Release on close: Refresh with lifetime 0, answered.
        let closing = a.close()
        #expect(closing.count == 1)
        for t in closing { socketA.send(t) }
        _ = b.close()
        run(for: 3_000_000) { a.stats.turnReleases == 1 }
        #expect(a.stats.turnReleases == 1)
        let log = namespace.log
        #expect(log.contains("lifetime=0"), "coturn log:\n\(log.suffix(3000))")
        print("coturn: listening after \(listening), relayed candidate after \(Double(allocatedMicros ?? -1) / 1000) ms, "
              + "both selected the relayed pair after \(Double(connectedMicros ?? -1) / 1000) ms; "
              + "A: \(a.stats.turnRequestsSent) TURN requests, \(a.stats.relayedSent) relayed out, \(a.stats.relayedReceived) in")
    }
}

/// A UDP socket made inside the namespace, non-blocking.
struct TestUDPSocket {
    let fd: Int32
    let address: STUNAddress

    func send(_ transmit: ICETransmit) {
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = transmit.destination.port.bigEndian
        guard inet_pton(AF_INET, transmit.destination.ip, &to.sin_addr) == 1 else { return }
        _ = transmit.datagram.withUnsafeBytes { bytes in
            withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    func receive() -> ([UInt8], STUNAddress)? {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var from = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let count = buffer.withUnsafeMutableBytes { bytes in
            withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, bytes.baseAddress, bytes.count, 0, $0, &length) }
            }
        }
        guard count >= 0 else { return nil }
        return (Array(buffer.prefix(count)), Self.address(from))
    }

    static func address(_ address: sockaddr_in) -> STUNAddress {
        var address = address
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
        return STUNAddress(ip: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                           port: UInt16(bigEndian: address.sin_port))
    }
}

/// The namespace with coturn running in it.
final class CoturnNamespace: @unchecked Sendable {
    static let serverIP = "10.99.0.1"
    static let peerIP = "10.99.0.2"
    static let tools = ["/usr/bin/turnserver", "/usr/bin/unshare", "/usr/bin/timeout"]
    static var ipTool: String? { ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) } }
    static var available: Bool {
        getuid() == 0 && ipTool != nil && tools.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let folder: String
    let process: Process
    /// The PID of the script (then of turnserver, which it execs) inside the namespace.
    let namespacePID: Int32

    private init(folder: String, process: Process, namespacePID: Int32) {
        self.folder = folder
        self.process = process
        self.namespacePID = namespacePID
    }

    var log: String { (try? String(contentsOfFile: folder + "/coturn.log", encoding: .utf8)) ?? "" }

    static func start() throws -> CoturnNamespace {
        let folder = NSTemporaryDirectory() + "flowrec-coturn-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let ip = ipTool ?? "ip"
        let script = """
            set -e
            \(ip) link set lo up
            \(ip) link add v0 type veth peer name v1
            \(ip) addr add \(serverIP)/24 dev v0
            \(ip) addr add \(peerIP)/24 dev v1
            \(ip) link set v0 up
            \(ip) link set v1 up
            sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.v0.accept_local=1 net.ipv4.conf.v1.accept_local=1
            echo $$ > '\(folder)/ns.pid.tmp' && mv '\(folder)/ns.pid.tmp' '\(folder)/ns.pid'
            exec /usr/bin/turnserver -n --listening-ip \(serverIP) --relay-ip \(serverIP) --listening-port 3478 \\
                --lt-cred-mech --user test:secret --realm flowrec --no-tls --no-dtls --no-tcp-relay \\
                --min-port 49160 --max-port 49200 --no-cli --log-file stdout --simple-log -v \\
                --pidfile '\(folder)/turnserver.pid' --userdb '\(folder)/turndb' > '\(folder)/coturn.log' 2>&1
            """
        try script.write(toFile: folder + "/netns.sh", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-k", "5", "60", "/usr/bin/unshare", "--net", "/bin/bash", folder + "/netns.sh"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: folder + "/ns.pid", encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return CoturnNamespace(folder: folder, process: process, namespacePID: pid)
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        reap(process)
        throw CoturnError("the namespace did not come up (script in \(folder)/netns.sh)")
    }

    /// Two UDP sockets on 10.99.0.2, made by a thread that joined the namespace.
    func sockets() throws -> (TestUDPSocket, TestUDPSocket) {
        final class Box: @unchecked Sendable {
            var result: Result<(TestUDPSocket, TestUDPSocket), CoturnError> = .failure(CoturnError("not run"))
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        let path = "/proc/\(namespacePID)/ns/net"
        let thread = Thread {
            defer { done.signal() }
            typealias SetNS = @convention(c) (Int32, Int32) -> Int32
            guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "setns") else {
                box.result = .failure(CoturnError("no setns in libc"))
                return
            }
            let setns = unsafeBitCast(symbol, to: SetNS.self)
            let nsfd = open(path, O_RDONLY)
            guard nsfd >= 0 else {
                box.result = .failure(CoturnError("cannot open \(path)"))
                return
            }
            defer { close(nsfd) }
            // CLONE_NEWNET: this thread only (it ends right after).
            guard setns(nsfd, 0x4000_0000) == 0 else {
                box.result = .failure(CoturnError("setns failed: errno \(errno)"))
                return
            }
            do {
                box.result = .success((try Self.bind(Self.peerIP), try Self.bind(Self.peerIP)))
            } catch {
                box.result = .failure(error as? CoturnError ?? CoturnError("\(error)"))
            }
        }
        thread.start()
        done.wait()
        return try box.result.get()
    }

    private static func bind(_ ip: String) throws -> TestUDPSocket {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw CoturnError("socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        inet_pton(AF_INET, ip, &address.sin_addr)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw CoturnError("bind \(ip) failed: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return TestUDPSocket(fd: fd, address: TestUDPSocket.address(address))
    }

    /// Sends Binding requests to coturn until one is answered (at most 30 s: it starts slowly on a loaded machine).
    func waitUntilListening(socket: TestUDPSocket, server: STUNAddress) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let request = STUNMessage(messageClass: .request, transactionID: STUNMessage.randomTransactionID())
            socket.send(ICETransmit(datagram: request.serialized(), destination: server))
            var fds = [pollfd(fd: socket.fd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 1, 100) > 0, let (reply, from) = socket.receive(), from == server,
               (try? STUNMessage(parsing: reply))?.transactionID == request.transactionID {
                return
            }
            guard process.isRunning else { break }
        }
        throw CoturnError("coturn did not answer on \(server):\n\(log.suffix(2000))")
    }

    /// SIGKILL to turnserver (the children inherit this process's blocked SIGTERM, so a polite
    /// signal would wait for `timeout -k`), then to `timeout` if it is still there; the folder goes.
    func stop() {
        kill(namespacePID, SIGKILL)
        Self.reap(process)
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Waits up to 2 s for `process` to end after its child was killed, then kills it.
    static func reap(_ process: Process) {
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

struct CoturnError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
