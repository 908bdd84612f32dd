import GateSurgeon
import JSON
import Testing

/// One reference model of fixtures/reference/presets/ (fixtures/gen/presets.py):
/// its tensors and hyperparameters, and what `llama-quantize --dry-run`
/// chose for every tensor under every preset, with and without an
/// importance matrix, and under command-line overrides.
struct PresetReference: CustomTestStringConvertible, Sendable {
    let file: String
    var testDescription: String { file }

    static let directory = Fixtures.path("reference/presets")
    /// The 35 reference models.
    static let all = FixtureArgument.list("fixtures/reference/presets/*.json", describe: \.file) {
        Paths.entries(of: directory).filter { $0.hasSuffix(".json") && $0 != "digests.json" }.sorted().map { PresetReference(file: $0) }
    }

    func load() throws -> (model: QuantizationModel, tensors: [QuantizationTensor], json: JSONValue, legend: [String]) {
        let json = try Fixtures.json("reference/presets/\(file)")
        let h = try #require(json["hparams"])
        let model = QuantizationModel(
            architecture: try #require(h["architecture"]?.stringValue),
            layerCount: Int(try #require(h["block_count"]?.intValue)),
            headCount: Int(try #require(h["head_count"]?.intValue)),
            headCountKV: Int(try #require(h["head_count_kv"]?.intValue)),
            expertCount: Int(h["expert_count"]?.intValue ?? 0))
        var tensors: [QuantizationTensor] = []
        for item in try #require(json["tensors"]?.arrayValue) {
            let parts = try #require(item.arrayValue)
            let name = try #require(parts[0].stringValue)
            let shape = try #require(parts[1].arrayValue).map { Int($0.intValue ?? -1) }
            let storedName = parts[2].stringValue ?? "?"
            let stored = try #require(DType(rawValue: storedName))
            tensors.append(QuantizationTensor(name: name, shape: shape, storedType: stored))
        }
        let legend = (json["legend"]?.arrayValue ?? []).compactMap(\.stringValue)
        return (model, tensors, json, legend)
    }
}

/// The type names of a run: one letter per tensor, letter `i` of
/// `A...Za...z` standing for `legend[i]`.
func presetTypes(_ run: JSONValue, legend: [String]) throws -> [String] {
    let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    let encoded = try #require(run["types"]?.stringValue)
    return encoded.map { letter in letters.firstIndex(of: letter).flatMap { $0 < legend.count ? legend[$0] : nil } ?? "?" }
}

/// The tensors where the rules disagree with a run of llama-quantize.
func presetMismatches(
    _ inventory: QuantizationInventory, _ options: QuantizationOptions, _ run: JSONValue, legend: [String]
) throws -> [String] {
    let tensors = inventory.tensors
    let expected = try presetTypes(run, legend: legend)
    try #require(expected.count == tensors.count)
    let choices = try inventory.choose(options: options)
    var problems: [String] = []
    for (index, tensor) in tensors.enumerated() where choices[index].type.name != expected[index] {
        problems.append("\(tensor.name): \(choices[index].type.name) (\(choices[index].reason)), llama-quantize \(expected[index])")
    }
    // The dry run warns when a tensor it would convert needs an importance matrix it was not given.
    let requires = choices.indices.contains { choices[$0].requiresImportance && choices[$0].type != tensors[$0].storedType }
    if !options.hasImportance, let reference = run["requires_imatrix"]?.boolValue, reference != requires {
        problems.append("needs an importance matrix: \(requires), llama-quantize \(reference)")
    }
    return problems
}

@Suite("llama-quantize presets: per-tensor types")
struct QuantizationPresetTests {
    /// For every preset, with and without an importance matrix, the rules
    /// choose llama-quantize's type for every tensor of the reference model
    /// (exact; no tolerance applies to a type).
    @Test(arguments: PresetReference.all)
    func presetTypesMatchLlamaQuantize(_ argument: FixtureArgument<PresetReference>) throws {
        let (model, tensors, json, legend) = try argument.value().load()
        let inventory = QuantizationInventory(tensors: tensors, model: model)
        let requantize = tensors.contains { $0.storedType.isQuantized }
        let presets = try #require(json["presets"]?.objectValue)
        #expect(presets.count == QuantizationPreset.allCases.count)
        for (name, entry) in presets {
            let preset = try #require(QuantizationPreset(parsing: name), "unknown preset \(name)")
            #expect(entry["file_type"]?.intValue == Int64(preset.fileType))
            for (key, importance) in [("plain", false), ("imatrix", true)] {
                let run = try #require(entry[key])
                let options = QuantizationOptions(preset: preset, hasImportance: importance, allowRequantize: requantize)
                let problems = try presetMismatches(inventory, options, run, legend: legend)
                #expect(problems.isEmpty, "\(name) \(key): \(problems.count) differences: \(problems.prefix(6))")
            }
        }
    }

    /// The override runs: --pure, --leave-output-tensor, --output-tensor-type
    /// with --token-embedding-type, and --tensor-type patterns.
    @Test(arguments: PresetReference.all)
    func overridesMatchLlamaQuantize(_ argument: FixtureArgument<PresetReference>) throws {
        let reference = try argument.value()
        let (model, tensors, json, legend) = try reference.load()
        let inventory = QuantizationInventory(tensors: tensors, model: model)
        // Three models carry override runs (fixtures/gen/presets.py).
        let hasOverrides = ["llama-l8-kv2.json", "qwen3moe-l2-e8.json", "qwen2-l4-kv2.json"].contains(reference.file)
        #expect((json["overrides"] != nil) == hasOverrides, "\(reference.file)")
        guard let runs = json["overrides"]?.arrayValue else { return }
        #expect(!runs.isEmpty)
        for run in runs {
            let presetName = run["preset"]?.stringValue ?? "?"
            let preset = try #require(QuantizationPreset(parsing: presetName))
            var options = QuantizationOptions(preset: preset, hasImportance: run["imatrix"]?.boolValue ?? false)
            var arguments = (run["arguments"]?.arrayValue ?? []).compactMap(\.stringValue)[...]
            while let flag = arguments.popFirst() {
                let value = arguments.first ?? ""
                switch flag {
                case "--pure": options.pure = true
                case "--leave-output-tensor": options.quantizeOutput = false
                case "--output-tensor-type":
                    options.outputType = DType(ggmlName: value)
                    arguments = arguments.dropFirst()
                case "--token-embedding-type":
                    options.tokenEmbeddingType = DType(ggmlName: value)
                    arguments = arguments.dropFirst()
                case "--tensor-type":
                    options.overrides.append(try TensorTypeOverride(parsing: value))
                    arguments = arguments.dropFirst()
                default: Issue.record("unknown argument \(flag)")
                }
            }
            let problems = try presetMismatches(inventory, options, run, legend: legend)
            let label = run["label"]?.stringValue ?? "?"
            #expect(problems.isEmpty, "\(label) \(preset.name) imatrix=\(options.hasImportance): \(problems.prefix(6))")
        }
    }

    @Test func presetNamesParseAsLlamaQuantizeParsesThem() {
        #expect(QuantizationPreset(parsing: "q4_k_m") == .q4_K_M)
        #expect(QuantizationPreset(parsing: "Q4_K") == .q4_K_M)
        #expect(QuantizationPreset(parsing: "q3_k") == .q3_K_M)
        #expect(QuantizationPreset(parsing: "Q5_K") == .q5_K_M)
        #expect(QuantizationPreset(parsing: "iq2_xxs") == .iq2_XXS)
        #expect(QuantizationPreset(parsing: "mxfp4_moe") == .mxfp4MoE)
        #expect(QuantizationPreset(parsing: "15") == .q4_K_M)
        #expect(QuantizationPreset(parsing: "F16") == nil)
        #expect(QuantizationPreset(parsing: "Q4_K_X") == nil)
        #expect(QuantizationPreset(parsing: "") == nil)
    }

    @Test func overridesParseAsLlamaQuantizeParsesThem() throws {
        let override = try TensorTypeOverride(parsing: "Attn_V=Q8_0")
        #expect(override == TensorTypeOverride(pattern: "attn_v", type: .q8_0))
        for bad in ["attn_v", "=q8_0", "attn_v=", "attn_v=q9_9", "x=F8_E4M3", "a=b=f16"] {
            #expect(throws: QuantizationRulesError.malformedOverride(bad)) { try TensorTypeOverride(parsing: bad) }
        }
        let tensors = [QuantizationTensor(name: "blk.0.attn_v.weight", shape: [256, 256], storedType: .f32)]
        let model = QuantizationModel(architecture: "llama", layerCount: 1, headCount: 4, headCountKV: 4)
        #expect(throws: QuantizationRulesError.self) {
            try QuantizationRules.choose(
                for: tensors, model: model,
                options: QuantizationOptions(preset: .q4_K_M, overrides: [TensorTypeOverride(pattern: "(", type: .q8_0)]))
        }
    }

    /// Refusals llama-quantize makes: re-quantizing a block type without
    /// permission, and expert tensors without a layer in their name.
    @Test func rulesRefuseWhatLlamaQuantizeRefuses() {
        let model = QuantizationModel(architecture: "llama", layerCount: 2, headCount: 4, headCountKV: 2)
        let stored = [QuantizationTensor(name: "blk.0.ffn_up.weight", shape: [256, 256], storedType: .q4_1)]
        #expect(throws: QuantizationRulesError.requantizing(tensor: "blk.0.ffn_up.weight", from: .q4_1, to: .q4_K)) {
            try QuantizationRules.choose(for: stored, model: model, options: QuantizationOptions(preset: .q4_K_S))
        }
        let moe = QuantizationModel(architecture: "qwen3moe", layerCount: 2, headCount: 4, headCountKV: 2, expertCount: 8)
        let unnamed = [QuantizationTensor(name: "ffn_down_exps.weight", shape: [8, 256, 256], storedType: .f32)]
        #expect(throws: QuantizationRulesError.noLayer(tensor: "ffn_down_exps.weight")) {
            try QuantizationRules.choose(for: unnamed, model: moe, options: QuantizationOptions(preset: .q4_K_M))
        }
        let late = [QuantizationTensor(name: "blk.7.ffn_down_exps.weight", shape: [8, 256, 256], storedType: .f32)]
        #expect(throws: QuantizationRulesError.layerOutOfRange(tensor: "blk.7.ffn_down_exps.weight", layer: 7, layerCount: 2)) {
            try QuantizationRules.choose(for: late, model: moe, options: QuantizationOptions(preset: .q4_K_M))
        }
    }
}
