import CFuzzerDriver
@testable import GateSurgeon
import CFuzzerDriver
@testable import GateSurgeonCommands
import JSON

/// What the fuzz targets share: in-memory files, and the work a command does
/// once a file has been read (inspect's report, the forward pass, add-gate,
/// the convert plan). Every error thrown is an expected outcome for hostile
/// input; only a crash, a sanitizer report or a hang is a finding.
public enum Fuzz {
    /// The directory the in-memory files claim to live in; it does not
    /// exist, so nothing beside them (config.json, tokenizer.json) is found.
    public static let directory = "/nonexistent-fuzz-input"

    /// Runs libFuzzer on `callback`, from a target's entry point.
    ///
    /// SwiftPM links an executable on Linux with `main` aliased to
    /// `<module>_main`, the entry point it renames so tests can link the
    /// executable; a `-parse-as-library` fuzz target has none, so each
    /// target defines that symbol and hands over to libFuzzer's driver here.
    public static func runDriver(
        _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
    ) -> Int32 {
        var count = argc
        var arguments = argv
        return LLVMFuzzerRunDriver(&count, &arguments, callback)
    }

    /// The bytes libFuzzer hands a target.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// `bytes` as a file named `name`, read by the same parsers as a mapping.
    public static func file(_ bytes: [UInt8], name: String) -> MappedFile {
        MappedFile(copying: bytes, path: directory + "/" + name)
    }

    /// A safetensors checkpoint read from `bytes`, or nil when it is refused.
    public static func safetensors(_ bytes: [UInt8]) -> Checkpoint? {
        guard let file = try? SafetensorsFile(file: file(bytes, name: "model.safetensors")) else { return nil }
        return .safetensors(SafetensorsCheckpoint(file: file))
    }

    /// A GGUF checkpoint read from `bytes`, or nil when it is refused.
    public static func gguf(_ bytes: [UInt8]) -> Checkpoint? {
        guard let file = try? GGUFFile(file: file(bytes, name: "model.gguf")), let model = try? GGUFModel(file: file) else { return nil }
        return .gguf(model)
    }

    /// What `inspect --stats`, `inspect --json` and plain `inspect` do with
    /// a checkpoint, output discarded.
    public static func inspect(_ checkpoint: Checkpoint) {
        let tensors = InspectReport.listedTensors(of: checkpoint)
        let statistics = tensors.compactMap { try? TensorStatistics(of: $0) }
        var report = InspectReport(checkpoint: checkpoint, tensors: tensors,
                                   statistics: statistics.count == tensors.count ? statistics : nil)
        report.tokenizer = InspectReport.TokenizerInspection(of: checkpoint)
        _ = report.json().serialized(.indented)
        _ = report.text()
        _ = InspectReport(checkpoint: checkpoint, tensors: InspectReport.listedTensors(of: checkpoint, matching: "*.0.*")).text()
    }

    /// Graphs above this many parameters are not run: the point is the
    /// checks on hostile values, not the arithmetic of a large model.
    public static let maximumParameters = 1 << 18

    /// The graph-level work of `forward`, `verify`, `add-gate` and `convert`
    /// on `graph`: a short forward pass, add-gate in every layout and
    /// granularity (all layers and layer 0 only), each result run forward and
    /// planned for both output formats.
    public static func exercise(_ graph: ModelGraph) {
        guard graph.parameterCount <= maximumParameters else { return }
        let tokens = [0, 1, 2, 1].map { $0 % graph.config.vocabSize }
        _ = try? ForwardPass(graph: graph, options: ForwardOptions(recordsAttention: true, recordsHiddenStates: true)).run(tokens: tokens)
        plan(graph)
        for layout in GateLayout.allCases {
            for granularity in GateGranularity.allCases {
                for layers in [nil, Set([0])] as [Set<Int>?] {
                    let insertion = GateInsertion(layout: layout, granularity: granularity, initialization: .zero, layers: layers)
                    guard let (gated, _) = try? insertion.apply(to: graph) else { continue }
                    _ = try? ForwardPass(graph: gated).run(tokens: tokens)
                    plan(gated)
                }
            }
        }
    }

    /// The convert plan for both formats, plain and to F16, with the values
    /// of the attention tensors and norms computed: the ones whose planned
    /// expressions permute, offset or splice rows (the rest are copies).
    static func plan(_ graph: ModelGraph) {
        for format in CheckpointFormat.allCases {
            for policy in [ConversionPolicy(), ConversionPolicy(dtype: .f16)] {
                guard let planned = try? ModelWriter.plan(graph, format: format, policy: policy) else { continue }
                for tensor in planned where tensor.tensor.name.contains("attn") || tensor.tensor.name.contains("norm") {
                    _ = try? tensor.expression.allValues()
                }
            }
        }
    }

    /// Small F32 tensors of the shapes `config` asks for, named the
    /// transformers way; nil when the model would exceed `maximumParameters`.
    public static func tensors(for config: ModelConfig) -> [GraphTensor]? {
        let (D, d, H, K, F, V) = (config.hiddenSize, config.headDim, config.headCount, config.kvHeadCount, config.intermediateSize, config.vocabSize)
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [V, D]), ("model.norm.weight", [D])]
        if !config.tieWordEmbeddings { shapes.append(("lm_head.weight", [V, D])) }
        var (total, checked) = (0, 0)
        var queryRows = H * d
        if let gate = config.gate, gate.layout != .separate { queryRows += config.gateRows(gate.granularity) }
        for layer in 0..<config.layerCount {
            let p = "model.layers.\(layer)."
            shapes += [
                (p + "input_layernorm.weight", [D]), (p + "post_attention_layernorm.weight", [D]),
                (p + "self_attn.q_proj.weight", [queryRows, D]), (p + "self_attn.k_proj.weight", [K * d, D]),
                (p + "self_attn.v_proj.weight", [K * d, D]), (p + "self_attn.o_proj.weight", [D, H * d]),
            ]
            if config.attentionBias {
                shapes += [(p + "self_attn.q_proj.bias", [queryRows]), (p + "self_attn.k_proj.bias", [K * d]), (p + "self_attn.v_proj.bias", [K * d])]
            }
            if config.outputBias { shapes.append((p + "self_attn.o_proj.bias", [D])) }
            if config.hasQueryKeyNorm { shapes += [(p + "self_attn.q_norm.weight", [d]), (p + "self_attn.k_norm.weight", [d])] }
            if let gate = config.gate, gate.layout == .separate, gate.gates(layer: layer) {
                shapes.append(gate.granularity == .elementwise ? (p + "self_attn.gate_proj.weight", [H * d, D]) : (p + "self_attn.g_proj.weight", [H, D]))
            }
            func mlp(_ prefix: String, _ size: Int, _ parts: (String, String, String)) {
                shapes += [(prefix + parts.0, [size, D]), (prefix + parts.1, [size, D]), (prefix + parts.2, [D, size])]
            }
            if let layout = config.architecture.expertLayout, let experts = config.experts {
                shapes.append((p + layout.router, [experts.count, D]))
                for expert in 0..<experts.count { mlp(p + layout.expertPrefix + "\(expert).", experts.intermediateSize, layout.expertParts) }
                if layout.hasSharedExpert {
                    mlp(p + "mlp.shared_expert.", experts.sharedIntermediateSize ?? 0, ("gate_proj.weight", "up_proj.weight", "down_proj.weight"))
                    shapes.append((p + "mlp.shared_expert_gate.weight", [1, D]))
                }
            } else {
                mlp(p + "mlp.", F, ("gate_proj.weight", "up_proj.weight", "down_proj.weight"))
            }
            for (_, shape) in shapes[checked...] {
                let (count, overflow) = shape.reduce((1, false)) { partial, dimension in
                    let (product, overflow) = partial.0.multipliedReportingOverflow(by: dimension)
                    return (product, partial.1 || overflow)
                }
                guard !overflow else { return nil }
                total += count
                if total > maximumParameters { return nil }
            }
            checked = shapes.count
        }
        return shapes.enumerated().map { index, entry in
            let (name, shape) = entry
            let rows = shape.count >= 2 ? shape[0] : 1
            let std: Float = name.hasSuffix("norm.weight") ? 0.1 : 0.5
            return GraphTensor(name: name, shape: shape, dtype: .f32,
                               expression: .normal(rowCount: rows, rowElements: shape.last ?? 1, std: std, seed: 7, stream: UInt64(index)))
        }
    }
}
