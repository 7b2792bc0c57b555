// swift-tools-version: 6.1
import PackageDescription

/// Coverage-guided fuzzing (libFuzzer) of flowrec's parsers: the capture readers, RTP/RTCP, the
/// depacketizers, SDP (and the peer's offer → answer path) and STUN.
///
/// Kept out of the main package so `swift build` and the tests never see the sanitizer.
/// Build and run: `bash scripts/fuzz.sh [SECONDS_PER_TARGET]` (one binary, the target chosen by
/// `FLOWREC_FUZZ_TARGET`; seeds in `Corpus/<target>/`).
let package = Package(
    name: "flowrec-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "flowrec", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "FlowrecFuzz",
            dependencies: [.product(name: "FlowrecParsers", package: "flowrec")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
