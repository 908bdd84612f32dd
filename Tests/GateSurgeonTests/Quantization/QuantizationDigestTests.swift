import GateSurgeon
import JSON
import Testing

import Platform

/// The committed source model (gguf/presets-llama.gguf, F16) quantized by
/// llama-quantize for every preset, without an importance matrix, with
/// llama-imatrix's GGUF file, and for some presets with its legacy `.dat`
/// file: the SHA-256 of every tensor it wrote (reference/presets/digests.json,
/// fixtures/gen/presets.py).
@Suite("llama-quantize presets: output bytes")
struct QuantizationDigestTests {
    struct Run: CustomTestStringConvertible, Sendable {
        let index: Int
        let label: String
        var testDescription: String { label }
    }

    static let runs = FixtureArgument.list("fixtures/reference/presets/digests.json runs", describe: \.label) {
        try #require(try Fixtures.json("reference/presets/digests.json")["runs"]?.arrayValue).enumerated().map { index, run in
            Run(index: index, label: "\(run["preset"]?.stringValue ?? "?") \(run["imatrix"]?.stringValue ?? "?")")
        }
    }

    /// Every byte of every tensor (the whole tensor's digest) in release builds
    /// (`swift test -c release`) and where GATESURGEON_WHOLE_DIGESTS=1 asks for
    /// it, as CI's plain run does (.ci/run); else each tensor's first rows (their
    /// own digest in the fixture, as exact). A debug build takes about four
    /// CPU-minutes for the whole tensors, the sanitized builds several times that.
    #if DEBUG
    static let wholeTensors = getenv("GATESURGEON_WHOLE_DIGESTS").map { String(cString: $0) == "1" } ?? false
    #else
    static let wholeTensors = true
    #endif

    /// Quantizing the model's tensors with the rules and the kernels gives
    /// llama-quantize's types and bytes (SHA-256, no tolerance), at every
    /// kernel level this CPU runs. Runs that
    /// llama-quantize refused (a preset that needs an importance matrix,
    /// without one) are refused by the rules too.
    @Test(arguments: runs, VectorKernels.available)
    func quantizedTensorsMatchLlamaQuantize(_ argument: FixtureArgument<Run>, level: VectorKernels.Level) throws {
        let run = try argument.value()
        let json = try Fixtures.json("reference/presets/digests.json")
        let reference = try #require(json["runs"]?.arrayValue?[run.index])
        let digestRows = Int(json["digest_rows"]?.intValue ?? 0)
        #expect(digestRows > 0)
        let presetName = reference["preset"]?.stringValue ?? "?"
        let preset = try #require(QuantizationPreset(parsing: presetName))
        let source = try GGUFFile(path: Fixtures.path("gguf/presets-llama.gguf"))
        let importance: ImportanceMatrix?
        switch reference["imatrix"]?.stringValue {
        case "imatrix": importance = try ImportanceMatrix(contentsOf: Fixtures.path("reference/imatrix/presets-llama.imatrix.gguf"))
        case "imatrix-dat": importance = try ImportanceMatrix(contentsOf: Fixtures.path("reference/imatrix/presets-llama.imatrix.dat"))
        default: importance = nil
        }
        let model = try #require(QuantizationModel(gguf: source))
        let tensors = source.tensors.map { QuantizationTensor(name: $0.name, shape: $0.shape, storedType: $0.dtype) }
        let options = QuantizationOptions(preset: preset, hasImportance: importance.map { !$0.entries.isEmpty } ?? false)
        let choices = try QuantizationRules.choose(for: tensors, model: model, options: options)
        guard let expected = reference["tensors"]?.arrayValue else {
            #expect(reference["error"] != nil)
            #expect(importance == nil && choices.contains { $0.requiresImportance }, "llama-quantize refused \(run.label)")
            return
        }
        #expect(reference["file_type"]?.intValue == Int64(preset.fileType))
        try #require(expected.count == source.tensors.count)
        for (index, stored) in source.tensors.enumerated() {
            let entry = try #require(expected[index].arrayValue)
            let type = choices[index].type
            #expect(type.name == entry[0].stringValue, "\(stored.name): \(type) (\(choices[index].reason))")
            guard type.name == entry[0].stringValue else { continue }
            let rowLength = stored.rowLength
            let rows = Self.wholeTensors ? stored.elementCount / rowLength : min(digestRows, stored.elementCount / rowLength)
            let count = rows * rowLength
            let bytes: [UInt8]
            if type == stored.dtype {
                let byteCount = try #require(type.byteCount(elements: count))
                bytes = stored.withBytes { Array($0.prefix(byteCount)) }
            } else {
                var values = [Float](repeating: 0, count: count)
                try stored.withBytes { raw in
                    try values.withUnsafeMutableBufferPointer { try ElementConversion.decode(raw, as: stored.dtype, into: $0) }
                }
                let weights = try importance?.importance(forTensor: stored.name, columns: rowLength, experts: 1)
                if choices[index].requiresImportance { try #require(weights != nil, "\(stored.name) needs importance") }
                bytes = try VectorKernels.withLevel(level) { try encoded(values, as: type, rowLength: rowLength, importance: weights) }
            }
            let digest = SHA256.hexDigest(bytes)
            let reference = entry[Self.wholeTensors ? 1 : 2].stringValue
            #expect(digest == reference, "\(stored.name) as \(type): the first \(rows) rows differ from llama-quantize's")
        }
    }
}

/// Encodes `values` as `dtype` with the code under test and optional importance.
func encoded(_ values: [Float], as dtype: DType, rowLength: Int, importance: [Float]?) throws -> [UInt8] {
    guard let importance else { return try encoded(values, as: dtype, rowLength: rowLength).bytes }
    return try encoded(values, as: dtype, rowLength: rowLength, importance: importance)
}
