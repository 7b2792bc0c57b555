import Foundation
import Media

/// The private network the live tests run in: a fresh network namespace (`unshare --net`) with
/// loopback up and a veth pair, 10.99.0.1 (recorder, Janus) and 10.99.0.2 (publishers). No
/// traffic leaves it.
enum LiveNetwork {
    /// Root, `unshare` and ffmpeg are needed.
    static let available = Tool.exists("ffmpeg") && Tool.exists("unshare") && getuid() == 0

    /// The `python3` on PATH (the one `scripts/install-deps.sh` installed aiortc for).
    static let python = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/python3"

    /// The Python peers and helpers (aiortc publishers, the lossy relay, the Janus environment).
    static let tools = Tool.packageRoot + "/Tests/Live"

    /// Shell lines that build the namespace's network. `accept_local`: Janus sends out of v0 to v1,
    /// and v1 would drop packets whose source is one of its own addresses.
    static let setUp = """
        ip link set lo up
        ip link add v0 type veth peer name v1
        ip addr add 10.99.0.1/24 dev v0 && ip addr add 10.99.0.2/24 dev v1
        ip link set v0 up && ip link set v1 up
        sysctl -qw net.ipv4.conf.all.accept_local=1 net.ipv4.conf.v0.accept_local=1 net.ipv4.conf.v1.accept_local=1
        """

    /// Runs a bash script in a new network namespace, with no signal blocked: the test process's
    /// children inherit its blocked signal mask (TERM among them), so `timeout` and `kill` in a
    /// script would otherwise do nothing.
    static func run(_ script: String) throws -> Tool.Result {
        try Tool.run("/usr/bin/unshare", ["--net", python, "-c",
                                          "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); os.execv('/bin/bash', ['bash', sys.argv[1]])",
                                          script])
    }
}

/// Goertzel power of `hz` in the samples between two times (48 kHz mono).
func tonePower(_ samples: [Int16], _ hz: Int, from: Double, to: Double) -> Double {
    let lo = min(samples.count, Int(from * 48_000)), hi = min(samples.count, max(lo, Int(to * 48_000)))
    return goertzelPower(Array(samples[lo..<hi]), frequency: Double(hz), sampleRate: 48_000)
}
