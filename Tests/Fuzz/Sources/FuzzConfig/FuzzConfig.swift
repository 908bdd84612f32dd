@testable import GateSurgeon
import FuzzSupport
import JSON

/// One config.json: the JSON module (plain, duplicate keys refused, with
/// member offsets, serialized and parsed back), then the model config read
/// from it, validated, and everything derived from it computed.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = Fuzz.bytes(data, size)
    _ = try? JSONValue.parse(bytes, rejectingDuplicateKeys: true)
    _ = try? bytes.withUnsafeBytes { try JSONValue.parseDocument($0, rejectingDuplicateKeys: true) }
    guard let value = try? JSONValue.parse(bytes) else { return 0 }
    let text = value.serialized(.indented)
    guard let reparsed = try? JSONValue.parse(text), reparsed.serialized() == value.serialized() else {
        fatalError("JSON does not survive serialization: \(text)")
    }
    guard case .object(let object) = value, let config = try? ModelConfig(transformersConfig: object, path: "config.json"),
        (try? config.validate(path: "config.json")) != nil
    else { return 0 }
    _ = config.ropeInverseFrequencies()
    _ = config.llama3RopeFactors()
    _ = config.transformersConfig()
    for granularity in GateGranularity.allCases { _ = config.gateRows(granularity) }
    return 0
}

/// The entry point SwiftPM's link names `main` (see `Fuzz.runDriver`).
@_cdecl("fuzz_config_main")
public func fuzz_configMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    Fuzz.runDriver(argc, argv, { data, size in fuzzConfig(data, size) })
}
