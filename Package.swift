// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "gatesurgeon",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "GateSurgeon", targets: ["GateSurgeon"]),
        .executable(name: "gatesurgeon", targets: ["gatesurgeon"]),
        // For the fuzz targets (Tests/Fuzz, a package of its own), which run the
        // commands' reports and the JSON module on hostile bytes.
        .library(name: "GateSurgeonCommands", targets: ["GateSurgeonCommands"]),
        .library(name: "JSON", targets: ["JSON"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // The system json-c library; only the JSON module imports it.
        .systemLibrary(
            name: "CJSONC",
            pkgConfig: "json-c",
            providers: [.apt(["libjson-c-dev"])]
        ),
        // The host's C library, imported in one place.
        .target(name: "Platform"),
        // Async-signal-safe removal of unfinished outputs on SIGBUS (C: a signal
        // handler may not allocate or lock, which Swift code cannot promise).
        .target(name: "CSignalCleanup"),
        // The vector kernels (AVX2 / AVX-512) of the casts and the forward pass's
        // products, in C for per-function instruction sets (see its header).
        .target(name: "CKernels"),
        // copy_file_range and sync_file_range, which the Glibc module hides (GNU extensions).
        .target(name: "CSystemExtensions"),
        // JSONValue: json-c objects turned into a Swift value, no C pointer escapes.
        .target(name: "JSON", dependencies: ["CJSONC"]),
        // The library: formats -> graph -> surgery / numerics -> forward pass -> writers.
        .target(
            name: "GateSurgeon",
            dependencies: ["JSON", "Platform", "CSignalCleanup", "CKernels", "CSystemExtensions"]
        ),
        // ArgumentParser commands, separate so tests run them in-process.
        .target(
            name: "GateSurgeonCommands",
            dependencies: [
                "GateSurgeon", "JSON", "Platform",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "gatesurgeon", dependencies: ["GateSurgeonCommands", "GateSurgeon", "Platform"]),
        // Release-mode benchmark against the peer tools; not a test.
        .executableTarget(
            name: "gatesurgeon-bench",
            dependencies: ["GateSurgeon", "JSON", "Platform", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/GateSurgeonBenchmarks"
        ),
        .testTarget(
            name: "GateSurgeonTests",
            dependencies: ["GateSurgeon", "GateSurgeonCommands", "JSON", "Platform", "CKernels"]
        ),
    ]
)
