// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// Release builds target the CPU of the machine that builds them (llama.cpp does the same by default):
/// a plain x86-64 build runs the kernels 3-4x slower. The kernels use AVX-512, so
/// `SHOAL_PORTABLE=1 swift build -c release` makes a binary for any x86-64 CPU with AVX-512
/// (Skylake-X, Ice Lake, Zen 4 and later) instead of only for CPUs like the build machine's.
let portable = ProcessInfo.processInfo.environment["SHOAL_PORTABLE"].map { $0 != "0" } ?? false
/// The fast path's int8 dot products use AVX-512 VNNI (`vpdpbusd`) when the build machine has it (Zen 4, Ice Lake
/// and later); otherwise, and in portable builds, an AVX-512BW sequence that gives the same sums.
let cpuInfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
let buildMachineHasVNNI = cpuInfo.contains(" avx512_vnni")
/// The kernels are written with AVX-512 intrinsics. On a machine without AVX-512 (AVX2 only, such as Zen 3) the
/// same kernels build from `AVX512Portable.swift`, which spells those intrinsics with portable SIMD types.
let buildMachineHasAVX512 = cpuInfo.contains(" avx512f") && cpuInfo.contains(" avx512bw") && cpuInfo.contains(" avx512vl")
let cpuFlags: [SwiftSetting] = [.unsafeFlags(["-target-cpu", portable ? "skylake-avx512" : "native"])]
    + (!portable && buildMachineHasVNNI ? [.define("SHOAL_VNNI")] : [])
    + (portable || buildMachineHasAVX512 ? [.define("SHOAL_AVX512")] : [])

let package = Package(
    name: "Shoal",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "shoal", targets: ["ShoalCLI"]),
        .executable(name: "shoal-synthetic-model", targets: ["SyntheticModel"]),
        .executable(name: "shoal-router", targets: ["ShoalRouterMain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .target(name: "ShoalGGUF"),
        .target(name: "CShoalKernels"),
        .target(name: "ShoalKernels", dependencies: ["ShoalGGUF", "CShoalKernels"], swiftSettings: cpuFlags),
        .target(name: "ShoalModels", dependencies: ["ShoalGGUF", "ShoalKernels"], swiftSettings: cpuFlags),
        .target(name: "ShoalTokenizers", dependencies: ["ShoalGGUF"]),
        .target(name: "ShoalGrammar"),
        .target(name: "ShoalEngine", dependencies: [
            "ShoalGGUF", "ShoalKernels", "ShoalModels", "ShoalTokenizers", "ShoalGrammar",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: cpuFlags),
        .target(name: "ShoalStore"),
        .target(name: "ShoalCluster", dependencies: ["ShoalStore", "ShoalGGUF", "CShoalKernels", "ShoalKernels", "ShoalModels", "ShoalEngine"]),
        // Wire types only: the router builds on them without the engine and its CPU flags.
        .target(name: "ShoalAPI", dependencies: ["ShoalGrammar"]),
        // The live dashboard's page, Prometheus text parser and window arithmetic, shared by router and server.
        .target(name: "ShoalDashboard"),
        .target(
            name: "ShoalHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "ShoalServer",
            dependencies: [
                "ShoalAPI", "ShoalEngine", "ShoalTokenizers", "ShoalHTTP", "ShoalDashboard",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "ShoalRouter",
            dependencies: [
                "ShoalAPI", "ShoalHTTP", "ShoalDashboard",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(name: "ShoalTestSupport", dependencies: ["ShoalGGUF"]),
        // `shoal bench serve`'s logic without I/O: arrival schedules, datasets, vLLM-shaped results. No CPU flags.
        .target(name: "ShoalBench", dependencies: ["ShoalAPI"]),
        // The `route` command and what commands share (logging and metrics set-up, port files): no CPU flags.
        .target(
            name: "ShoalCommands",
            dependencies: [
                "ShoalRouter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "ShoalRouterMain", dependencies: [
            "ShoalCommands", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(
            name: "ShoalCLI",
            dependencies: [
                "ShoalGGUF", "ShoalKernels", "ShoalModels", "ShoalTokenizers", "ShoalEngine", "ShoalStore",
                "ShoalAPI", "ShoalServer", "ShoalRouter", "ShoalCluster", "ShoalCommands", "ShoalBench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: cpuFlags
        ),
        .executableTarget(name: "SyntheticModel", dependencies: ["ShoalGGUF", "ShoalTestSupport"], path: "Sources/SyntheticModel"),
        .testTarget(name: "ShoalGGUFTests", dependencies: ["ShoalGGUF", "ShoalTestSupport"]),
        .testTarget(name: "ShoalKernelsTests", dependencies: ["ShoalKernels", "ShoalTestSupport"], swiftSettings: cpuFlags),
        .testTarget(name: "ShoalModelsTests", dependencies: ["ShoalModels", "ShoalKernels", "ShoalGGUF", "ShoalTestSupport"]),
        .testTarget(name: "ShoalGrammarTests", dependencies: ["ShoalGrammar", "ShoalTestSupport"]),
        .testTarget(name: "ShoalTokenizersTests", dependencies: ["ShoalTokenizers", "ShoalGGUF", "ShoalTestSupport"]),
        .testTarget(name: "ShoalEngineTests", dependencies: ["ShoalEngine", "ShoalModels", "ShoalTokenizers", "ShoalTestSupport"]),
        .testTarget(name: "ShoalStoreTests", dependencies: ["ShoalStore", "ShoalTestSupport"]),
        .testTarget(name: "ShoalClusterTests", dependencies: ["ShoalCluster", "ShoalModels", "ShoalKernels", "ShoalGGUF", "ShoalTestSupport"]),
        .testTarget(name: "ShoalDashboardTests", dependencies: ["ShoalDashboard"]),
        .testTarget(name: "ShoalAPITests", dependencies: ["ShoalAPI", "ShoalGrammar", "ShoalServer", "ShoalEngine"]),
        .testTarget(
            name: "ShoalServerTests",
            dependencies: [
                "ShoalServer", "ShoalAPI", "ShoalEngine", "ShoalTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "ShoalRouterTests",
            dependencies: [
                "ShoalRouter", "ShoalAPI", "ShoalTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ShoalBenchTests", dependencies: ["ShoalBench", "ShoalAPI"]),
        .testTarget(name: "ShoalCLITests", dependencies: ["ShoalTestSupport", "ShoalModels"]),
    ]
)

for target in package.targets where target.name != "CShoalKernels" {
    target.swiftSettings = (target.swiftSettings ?? []) + [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ]
}
