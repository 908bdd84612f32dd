@testable import GateSurgeon
import FuzzSupport
import JSON

/// Hostile values inside well-formed files, where the parsers' checks end:
/// a config.json (given small random tensors of the shapes it asks for), or
/// a GGUF file (its metadata and tensors), built into a model graph; then a
/// short forward pass, add-gate in every layout and granularity, and the
/// convert plan for both formats (`Fuzz.exercise`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSemantic(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    if bytes.starts(with: Array("GGUF".utf8)) {
        guard let checkpoint = Fuzz.gguf(bytes), let graph = try? ModelGraph(checkpoint: checkpoint) else { return 0 }
        Fuzz.exercise(graph)
        return 0
    }
    guard case .object(let object)? = try? JSONValue.parse(bytes),
        let config = try? ModelConfig(transformersConfig: object, path: "config.json"),
        (try? config.validate(path: "config.json")) != nil,
        let tensors = Fuzz.tensors(for: config),
        let graph = try? ModelGraph(config: config, tensors: tensors, name: "config.json")
    else { return 0 }
    Fuzz.exercise(graph)
    return 0
}

/// The entry point SwiftPM's link names `main` (see `Fuzz.runDriver`).
@_cdecl("fuzz_semantic_main")
public func fuzz_semanticMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    Fuzz.runDriver(argc, argv, { data, size in fuzzSemantic(data, size) })
}
