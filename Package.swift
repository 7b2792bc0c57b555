// swift-tools-version: 6.1
import PackageDescription

/// flowrec: records and transcodes video calls (Janus videoroom, WHIP, RTP dumps) into WebM.
///
/// C libraries come from Debian `-dev` packages through pkg-config; every Swift module is
/// small and owns one job (see README.md, "Code map").
/// Release builds skip dynamic exclusivity checks in the per-packet modules (the checks stay on in
/// debug builds, where every test runs): measured 7% of `transcode --tracks` time.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "flowrec",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "flowrec", targets: ["flowrec"]),
        /// The modules as a library, for the benchmarks package and other tools.
        .library(name: "FlowrecKit", targets: ["RTP", "SDP", "Capture", "Media", "WebM", "Ingest", "Synth", "AudioMix",
                                               "VideoCompose", "Pipeline", "Jobs"]),
        /// The parsers alone (captures, RTP/RTCP, depacketizers, SDP, STUN, the peer's offer path), for
        /// the fuzz package in `Fuzz/`: building them needs none of the swift-nio or Yams modules.
        .library(name: "FlowrecParsers", targets: ["RTP", "SDP", "Capture", "Media", "ICE", "Peer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // MARK: C libraries (Debian -dev packages via pkg-config)
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev"])]),
        /// libyuv ships no pkg-config file; its headers and library are in the default paths.
        .systemLibrary(name: "CYUV", providers: [.apt(["libyuv-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        /// `static inline` wrappers for what Swift cannot import: variadic ctl calls, function-like macros.
        .target(name: "CShims", dependencies: ["COpus", "CVPX", "CFFmpeg"]),

        // MARK: Protocols and formats (pure Swift, sans-IO)
        .target(name: "RTP", swiftSettings: hotPathSettings),
        .target(name: "SDP"),
        /// IP addresses as text and bytes (dotted IPv4, RFC 5952 IPv6), shared by captures and STUN.
        .target(name: "IPAddress"),
        .target(name: "Capture", dependencies: ["IPAddress", "JSONText"], swiftSettings: hotPathSettings),
        /// JSON values, a bounded parser and a writer, for Janus messages and `.mjr` info headers.
        .target(name: "JSONText"),
        /// The two log formats (human lines on a terminal, JSON lines otherwise) as swift-log handlers.
        .target(name: "FlowrecLogging", dependencies: ["JSONText", .product(name: "Logging", package: "swift-log")]),
        /// STUN messages (RFC 8489) and the ICE agent (RFC 8445), sans-IO.
        .target(name: "ICE", dependencies: ["IPAddress", "COpenSSL"]),
        /// DTLS 1.2 over memory BIOs (OpenSSL) and SRTP sessions (libsrtp2), sans-IO.
        .target(name: "DTLS", dependencies: ["COpenSSL", "CShims"]),
        .target(name: "SRTP", dependencies: ["CSRTP"]),
        /// A receiving peer's sans-IO parts: RFC 7983 demultiplexing, reception statistics and
        /// receiver reports, NACK scheduling.
        .target(name: "Peer", dependencies: ["RTP", "ICE", "DTLS", "SRTP", "SDP", "Media"]),
        /// A sending WebRTC peer made of the parts above (ICE controlling, DTLS, SRTP), sans-IO: the
        /// publisher of the peer tests and of the soak driver.
        .target(name: "LoopbackPeer", dependencies: ["Peer", "RTP", "ICE", "DTLS", "SRTP"]),
        /// A small HTTP/1.1 server (SwiftNIO): binding, keep-alive, body limit, one responder for every
        /// request, graceful stop; under the WHIP endpoint and the metrics server.
        .target(name: "HTTPServer", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        /// The WHIP endpoint (RFC 9725): request handling (sans-IO), served by `HTTPServer`.
        .target(name: "WHIP", dependencies: ["HTTPServer", .product(name: "NIOCore", package: "swift-nio")]),

        /// Live recording: a SwiftNIO UDP driver per publisher around the sans-IO peer, raw capture,
        /// the WHIP backend, and the record job that turns captures into the outputs.
        .target(name: "Live", dependencies: [
            "Peer", "WHIP", "HTTPServer", "Janus", "DTLS", "ICE", "Capture", "Media", "Ingest", "Jobs", "Pipeline",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        /// The Janus videoroom client (WebSocket and HTTP long-poll transports): a silent participant
        /// that follows the room's publishers and subscribes to all of them.
        .target(name: "Janus", dependencies: [
            "JSONText",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),

        // MARK: Media
        .target(name: "Media", dependencies: ["RTP", "COpus", "CVPX", "CFFmpeg", "CShims"], swiftSettings: hotPathSettings),
        .target(name: "WebM", dependencies: ["Media", "CFFmpeg", "CShims"], swiftSettings: hotPathSettings),
        .target(name: "Ingest", dependencies: ["RTP", "Capture", "Media", "SDP"], swiftSettings: hotPathSettings),
        .target(name: "Synth", dependencies: ["RTP", "Capture", "Media", "SeededRandom"]),
        /// The one deterministic random generator (SplitMix64) of synthetic rooms and seeded tests.
        .target(name: "SeededRandom"),
        /// Audio: Opus track decoding onto a sample timeline, mixing with a limiter.
        .target(name: "AudioMix", dependencies: ["Media"], swiftSettings: hotPathSettings),
        /// Video: layouts, scaling (libyuv) and tile composition onto a canvas.
        .target(name: "VideoCompose", dependencies: ["Media", "CYUV"], swiftSettings: hotPathSettings),
        /// The room pipeline: timeline, decode → mix/compose → encode → WebM, and the YAML presets.
        .target(name: "Pipeline", dependencies: ["Media", "Ingest", "WebM", "AudioMix", "VideoCompose",
                                                 .product(name: "Yams", package: "Yams")]),
        /// What each command does (transcode, inspect, synth), independent of argument parsing.
        .target(name: "Jobs", dependencies: ["RTP", "Capture", "Media", "WebM", "Ingest", "Synth", "SDP", "Pipeline"]),

        /// The soak driver: the live path for hours of virtual time with loopback publishers, memory watched (`flowrec soak`).
        .target(name: "Soak", dependencies: ["Live", "LoopbackPeer", "Peer", "ICE", "DTLS", "RTP", "Media", "Synth", "Jobs",
                                             "Pipeline", "SeededRandom"]),

        // MARK: Command line
        .executableTarget(name: "flowrec", dependencies: [
            "Jobs", "Capture", "Media", "SDP", "Pipeline", "Live", "Peer", "Janus", "ICE", "FlowrecLogging", "Soak", "IPAddress",
            .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
        ]),

        // MARK: Tests
        .testTarget(name: "RTPTests", dependencies: ["RTP", "SeededRandom"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "IPAddress", "SeededRandom"]),
        .testTarget(name: "MediaTests", dependencies: ["Media", "RTP", "SeededRandom"]),
        .testTarget(name: "WebMTests", dependencies: ["WebM", "Media"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "Synth", "Capture", "RTP", "Media", "SDP", "SeededRandom"]),
        .testTarget(name: "SDPTests", dependencies: ["SDP", "SeededRandom"]),
        .testTarget(name: "ICETests", dependencies: ["ICE", "SeededRandom"]),
        .testTarget(name: "PeerTests", dependencies: ["Peer", "RTP", "ICE", "DTLS", "SRTP", "SDP", "Media", "SeededRandom", "LoopbackPeer"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", .product(name: "NIOEmbedded", package: "swift-nio")]),
        .testTarget(name: "WHIPTests", dependencies: ["WHIP"]),
        .testTarget(name: "LiveTests", dependencies: ["Live", "Jobs", "Synth", "Capture", "Ingest", "Pipeline", "WebM", "RTP"]),
        .testTarget(name: "FlowrecLoggingTests", dependencies: ["FlowrecLogging", "JSONText", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "JanusTests", dependencies: ["Janus", "JSONText", "SeededRandom"]),
        .testTarget(name: "DTLSTests", dependencies: ["DTLS", "SRTP", "RTP"]),
        .testTarget(name: "AudioMixTests", dependencies: ["AudioMix", "Media"]),
        .testTarget(name: "VideoComposeTests", dependencies: ["VideoCompose", "Media"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Ingest", "Synth", "Media"]),
        .testTarget(name: "JobsTests", dependencies: ["Jobs", "Synth", "Capture", "Media", "RTP", "WebM"]),
        .testTarget(name: "EndToEndTests", dependencies: ["Jobs", "Media", "Synth", "VideoCompose", "Soak", "Capture"]),
    ],
    swiftLanguageModes: [.v6]
)
