import ArgumentParser
import GateSurgeon

/// `gatesurgeon add-gate`: insert fresh attention output gates.
struct AddGateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-gate",
        abstract: "Insert freshly initialized attention output gates into an ungated checkpoint.",
        discussion: """
            Gated Attention (Qiu et al., Qwen 2025) multiplies each head's attention output,
            before o_proj, by sigmoid(X W_gate), X being the normed hidden state that feeds
            q/k/v. With the default --init zero, W_gate = 0 and o_proj is doubled, so the
            gated model computes exactly what the input computed, and the gate still learns.

            Layouts (see README, "Gate layouts"):
              gated-attention  gate rows fused into q_proj per KV group, as the paper's code
                               loads them (default for Qwen3 safetensors input)
              qwen3-next       gate rows interleaved per head in q_proj; a Qwen3 input becomes
                               a native Qwen3.5 checkpoint (Qwen3_5ForCausalLM)
              separate         one new tensor per layer: self_attn.gate_proj / g_proj, or
                               blk.N.attn_gate in GGUF (default otherwise; --layers works here)

            Examples:
              gatesurgeon add-gate model.safetensors gated.safetensors
              gatesurgeon add-gate qwen3/ qwen35-gated/ --layout qwen3-next --dtype bf16
              gatesurgeon add-gate llama/ llama-gated/ --layers 0-11 --granularity headwise
              gatesurgeon add-gate qwen3/ gated/ --init normal --std 0.02 --seed 7
            """
    )

    @Argument(help: "Input: a .safetensors file, a model directory, or a .gguf file.")
    var input: String

    @Argument(help: "Output: a .safetensors or .gguf file, or a directory.")
    var output: String

    @Option(help: "config.json for a .safetensors input (default: the one beside it).")
    var config: String?

    @Option(help: ArgumentHelp("Where the gate weights live.", valueName: "layout"))
    var layout: GateLayout?

    @Option(help: "One gate value per head dimension, or one per head.")
    var granularity: GateGranularity = .elementwise

    @Option(name: .customLong("init"), help: ArgumentHelp("Gate initialization: zero (function-preserving) or normal.", valueName: "zero|normal"))
    var initialization: InitializationKind = .zero

    @Option(help: "Standard deviation for --init normal (default: the config's initializer_range, else 0.02).")
    var std: Float?

    @Option(help: "Seed for --init normal.")
    var seed: UInt64 = 0

    @Flag(help: "With --init normal, do not double o_proj.")
    var noCompensate = false

    @Option(help: ArgumentHelp("Gate only these layers, e.g. 0-11,20 (separate layout only).", valueName: "spec"))
    var layers: String?

    @Flag(help: "After writing, run input and output on the same tokens; fail unless they agree (exactly for --init zero).")
    var verify = false

    @OptionGroup var outputOptions: OutputOptions

    enum InitializationKind: String, ExpressibleByArgument, CaseIterable { case zero, normal }


    func validate() throws {
        try outputOptions.validate(forOutput: output)
        if let layers, LayerSpec.parse(layers) == nil {
            throw ValidationError("--layers '\(layers)' is not a layer list such as 0-11,20")
        }
        if initialization == .zero && (std != nil) {
            throw ValidationError("--std only applies to --init normal")
        }
        if let std, !(std > 0 && std.isFinite) {
            throw ValidationError("--std must be a positive number")
        }
    }

    func run() throws {
        let checkpoint = try Checkpoint(path: input)
        let graph = try ModelGraph(checkpoint: checkpoint, configPath: config)
        let format = outputFormat(for: output)
        let chosenLayout = layout ?? (format == .gguf ? .separate : GateInsertion.defaultLayout(for: graph.config.family))
        if format == .gguf && chosenLayout != .separate {
            throw ValidationError("GGUF output carries the gate as blk.N.attn_gate (--layout separate); \(chosenLayout.rawValue) is a safetensors layout")
        }
        let initial: GateInitialization = initialization == .zero
            ? .zero
            : .normal(std: std ?? Float(graph.config.initializerRange), seed: seed)
        let insertion = GateInsertion(
            layout: chosenLayout, granularity: granularity, initialization: initial,
            compensate: initialization == .zero || !noCompensate, layers: layers.flatMap(LayerSpec.parse))
        let (gated, summary) = try insertion.apply(to: graph)

        let plan = ModelWriter.plan(gated, format: format, policy: outputOptions.policy)
        print("add-gate: \(graph.config.family.rawValue), \(graph.config.layerCount) layers, \(graph.config.headCount) heads x \(graph.config.headDim), layout \(chosenLayout.rawValue), \(granularity.rawValue), init \(initialization.rawValue)")
        // Bytes the gate adds: the growth of q_proj, or the new gate tensors, as written.
        let inputPlan = ModelWriter.plan(graph, format: format, policy: outputOptions.policy)
        let addedBytes = plan.reduce(0) { $0 + $1.byteCount } - inputPlan.reduce(0) { $0 + $1.byteCount }
        print("  gating layers \(Self.describeLayers(summary.gatedLayers)); \(summary.tensorsAdded.count) tensors added, \(summary.tensorsChanged.count) rewritten, +\(InspectReport.formatCount(summary.parametersAdded)) parameters, +\(InspectReport.formatBytes(addedBytes))")
        try writeModel(gated, plan: plan, to: output, options: outputOptions.writeOptions(format: format),
                       verifyingAgainst: verify ? graph : nil,
                       thresholds: PostWriteVerification.thresholds(for: plan, initialization: initial))
    }

    static func describeLayers(_ layers: [Int]) -> String {
        var ranges: [String] = []
        var index = 0
        while index < layers.count {
            var end = index
            while end + 1 < layers.count && layers[end + 1] == layers[end] + 1 { end += 1 }
            ranges.append(end == index ? "\(layers[index])" : "\(layers[index])-\(layers[end])")
            index = end + 1
        }
        return ranges.joined(separator: ",")
    }
}
