// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for gatesurgeon, a package of their own so the main
// package's `swift build` and `swift test` never compile them. Build and run
// them with `Tests/Fuzz/run TARGET SECONDS`, which also instruments the
// library under test (coverage, AddressSanitizer) and enables `@testable`
// imports of its internals (in-memory entry points, the inspect report).
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library", "-enable-testing"])]
let fuzzerLink: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]

func fuzzTarget(_ name: String, path: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"], path: "Sources/" + path,
                      swiftSettings: fuzzer, linkerSettings: fuzzerLink)
}

let package = Package(
    name: "gatesurgeon-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "gatesurgeon", path: "../.."),
    ],
    targets: [
        // What several targets run on one decoded input: inspect's report,
        // the graph-level work (forward pass, add-gate, convert plan).
        // libFuzzer's driver entry, declared for Swift (see Fuzz.runDriver).
        .target(name: "CFuzzerDriver"),
        .target(
            name: "FuzzSupport",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "GateSurgeon", package: "gatesurgeon"),
                .product(name: "GateSurgeonCommands", package: "gatesurgeon"),
                .product(name: "JSON", package: "gatesurgeon"),
            ],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-enable-testing"])]
        ),
        fuzzTarget("fuzz-safetensors", path: "FuzzSafetensors"),
        fuzzTarget("fuzz-gguf", path: "FuzzGGUF"),
        fuzzTarget("fuzz-config", path: "FuzzConfig"),
        fuzzTarget("fuzz-tokenizer", path: "FuzzTokenizer"),
        fuzzTarget("fuzz-semantic", path: "FuzzSemantic"),
    ]
)
