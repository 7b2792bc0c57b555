// swift-tools-version: 6.1
import PackageDescription

/// Micro-benchmarks of flowrec's per-packet hot paths (package-benchmark).
/// Run: `cd Benchmarks && swift package --allow-writing-to-directory .benchmarkBaselines benchmark`
let package = Package(
    name: "flowrec-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "flowrec", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "FlowrecKit", package: "flowrec"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
    ]
)
