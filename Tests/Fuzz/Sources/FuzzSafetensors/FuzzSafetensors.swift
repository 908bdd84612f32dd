@testable import GateSurgeon
import FuzzSupport

/// One safetensors file: read, inspected (listing, --stats, --json, the
/// tokenizer summary), and, when its metadata carries a config.json (as
/// gatesurgeon's single-file outputs do), built into a graph and run.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let checkpoint = Fuzz.safetensors(Fuzz.bytes(data, size)) else { return 0 }
    Fuzz.inspect(checkpoint)
    if let graph = try? ModelGraph(checkpoint: checkpoint) { Fuzz.exercise(graph) }
    return 0
}

/// The entry point SwiftPM's link names `main` (see `Fuzz.runDriver`).
@_cdecl("fuzz_safetensors_main")
public func fuzz_safetensorsMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    Fuzz.runDriver(argc, argv, { data, size in fuzzSafetensors(data, size) })
}
