@testable import GateSurgeon
import FuzzSupport

/// One GGUF file: read, inspected (listing, --stats, --json, the tokenizer
/// summary), its metadata read as a model config and its tokenizer keys as a
/// tokenizer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let checkpoint = Fuzz.gguf(Fuzz.bytes(data, size)), let gguf = checkpoint.gguf else { return 0 }
    Fuzz.inspect(checkpoint)
    if let config = try? ModelConfig(gguf: gguf) {
        _ = config.ropeInverseFrequencies()
        _ = config.transformersConfig()
    }
    return 0
}

/// The entry point SwiftPM's link names `main` (see `Fuzz.runDriver`).
@_cdecl("fuzz_gguf_main")
public func fuzz_ggufMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    Fuzz.runDriver(argc, argv, { data, size in fuzzGGUF(data, size) })
}
