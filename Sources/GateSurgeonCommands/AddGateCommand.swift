import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon add-gate`: insert fresh attention output gates.
struct AddGateCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-gate",
        abstract: "Insert freshly initialized attention output gates into a checkpoint.",
        discussion: """
            Gated Attention (Qiu et al., Qwen 2025) multiplies each head's attention output, before o_proj, by \
            sigmoid(X W_gate), X being the normed hidden state that feeds q/k/v. With the default --init zero, \
            W_gate = 0 and o_proj is doubled, so the gated model computes exactly what the input computed, and \
            the gate still learns.

            Layouts (see the README, "Gate layouts"): gated-attention fuses the gate rows into q_proj per KV group, \
            as the paper's code loads them (the default for Qwen3 safetensors input). qwen3-next interleaves them \
            per head in q_proj; a Qwen3 input becomes a native Qwen3.5 checkpoint (Qwen3_5ForCausalLM). separate \
            adds one tensor per layer: self_attn.gate_proj or g_proj, or blk.N.attn_gate in GGUF (the default \
            otherwise, and the layout --layers works with).

            A headwise gate in GGUF is written as llama.cpp's step35 architecture where that computes the model \
            exactly (Llama, Mistral, Qwen2, Qwen3, Qwen3-MoE, Mixtral without RoPE scaling), so the file runs in \
            llama.cpp; --gguf-arch chooses another architecture.

            OUT is a .safetensors file (its config travels in its metadata), a .gguf file (in parts with \
            --split-max-size or --split-max-tensors), or a model directory (ending in /) with config.json and \
            the tokenizer files. --dry-run prints the plan and the files it would write, and writes nothing.

            Examples:
              gatesurgeon add-gate model.safetensors gated.safetensors --verify
              gatesurgeon add-gate qwen3/ qwen35-gated/ --layout qwen3-next --dtype bf16
              gatesurgeon add-gate llama/ gated/ --layers 0-11 --granularity headwise
              gatesurgeon add-gate qwen3/ gated/ --init normal --std 0.02 --seed 7
              gatesurgeon add-gate model.Q8_0.gguf gated.gguf --json
              gatesurgeon add-gate qwen3/ gated.gguf --granularity headwise
            """
    )

    @Argument(help: "Input: a .safetensors file, a model directory (or Hugging Face cache folder), or a .gguf file (any part of a split one).")
    var input: String

    @Argument(help: "Output: a .safetensors or .gguf file, or a directory (ending in /).")
    var output: String

    @Option(help: ArgumentHelp("config.json of a single .safetensors input (default: its own metadata, NAME.config.json, then config.json beside it).", valueName: "path"))
    var config: String?

    @Option(help: ArgumentHelp("Where the gate weights live.", valueName: "layout"))
    var layout: GateLayout?

    @Option(help: "One gate value per head dimension, or one per head.")
    var granularity: GateGranularity = .elementwise

    @Option(name: .customLong("init"), help: "Gate initialization: zero (function-preserving) or normal.")
    var initialization: InitializationKind = .zero

    @Option(parsing: .unconditional, help: "Standard deviation for --init normal (default: the config's initializer_range, else 0.02).")
    var std: Float?

    @Option(parsing: .unconditional, help: "Seed for --init normal.")
    var seed: UInt64 = 0

    @Flag(help: "With --init normal, do not double o_proj.")
    var noCompensate = false

    @Option(help: ArgumentHelp("Layers to gate, e.g. 0-11,20 (separate layout only).", valueName: "list"), transform: LayerList.parse)
    var layers: Set<Int>?

    @Flag(help: "After writing, run input and output on the same tokens; fail unless they agree (exactly for --init zero; override the limits below).")
    var verify = false

    @OptionGroup(title: "Output") var outputOptions: OutputOptions
    @OptionGroup(title: "Limits of --verify") var thresholds: ThresholdOptions
    @OptionGroup(title: "Reporting") var report: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    enum InitializationKind: String, ExpressibleByArgument, CaseIterable { case zero, normal }

    func validate() throws {
        if initialization == .zero && std != nil {
            throw ValidationError("--std only applies to --init normal")
        }
        if initialization == .zero && noCompensate {
            throw ValidationError("--no-compensate only applies to --init normal (a zero gate halves the output unless o_proj is doubled)")
        }
        if let std, !(std > 0 && std.isFinite) {
            throw ValidationError("--std must be a positive number")
        }
        if !verify && !thresholds.isEmpty {
            throw ValidationError("--max-abs, --max-nmse, --min-top1 and --max-kld set the limits of --verify; add --verify")
        }
        if verify && outputOptions.dryRun {
            throw ValidationError("--verify runs the written output, and --dry-run writes none; give one of them")
        }
    }

    func run(console: Console) throws {
        let target = try OutputTarget(model: output)
        try outputOptions.validate(for: target)
        let graph = try ModelGraph(checkpoint: Checkpoint(path: input), configPath: config)
        let transaction = OutputTransaction(inputs: graph.inputPaths + outputOptions.inputs, replacing: outputOptions.force)
        try outputOptions.check(target, in: transaction)
        let format = target.checkpointFormat
        let gatingSomeLayers = layers.map { $0.count != graph.config.layerCount } ?? false
        let chosenLayout = layout ?? GateInsertion.defaultLayout(for: graph.config.family, format: format, gatingSomeLayers: gatingSomeLayers)
        if format == .gguf && chosenLayout != .separate {
            throw ValidationError("GGUF output carries the gate as blk.N.attn_gate (--layout separate); \(chosenLayout.rawValue) is a safetensors layout")
        }
        let initial: GateInitialization = initialization == .zero
            ? .zero
            : .normal(std: std ?? Float(graph.config.initializerRange), seed: seed)
        let insertion = GateInsertion(
            layout: chosenLayout, granularity: granularity, initialization: initial,
            compensate: initialization == .zero || !noCompensate, layers: layers)
        let (gated, summary) = try insertion.apply(to: graph)

        let policy = try outputOptions.policy()
        let written = try outputOptions.prepared(gated, for: target)
        let plan = try ModelWriter.plan(written, format: format, policy: policy, ggufArchitecture: outputOptions.ggufChoice)
        // Bytes the gate adds: the growth of q_proj, or the new gate tensors, as written (the input in the same architecture).
        let inputPlan = try ModelWriter.plan(graph, format: format, policy: policy,
                                             ggufArchitecture: written.config.architecture.isStep35 ? .step35 : .family)
        let addedBytes = plan.reduce(0) { $0 + $1.byteCount } - inputPlan.reduce(0) { $0 + $1.byteCount }
        let layerText = PlanReport.describeLayers(summary.gatedLayers)
        let loaders = try CheckpointLoaders(of: gated, format: format, isDirectory: target.kind == .directory,
                                            ggufArchitecture: outputOptions.ggufChoice)
        if report.showsPlan {
            let carrier = format == .gguf ? ", GGUF architecture \(written.config.architecture.ggufName)" : ""
            console.print("add-gate: \(graph.config.family.rawValue), \(graph.config.layerCount) layers, \(graph.config.headCount) heads x \(graph.config.headDim), layout \(chosenLayout.rawValue), \(granularity.rawValue), init \(initialization.rawValue)\(carrier)")
            console.print("  gating layers \(layerText); \(summary.tensorsAdded.count) tensors added, \(summary.tensorsChanged.count) rewritten, +\(InspectReport.formatCount(summary.parametersAdded)) parameters, +\(InspectReport.formatBytes(addedBytes))")
            console.print("  loads in:")
            for loader in loaders.loaders { console.print("    \(loader.usage)") }
            for note in loaders.notes { console.print("  not elsewhere: \(note)") }
        }
        let gate: JSONObject = [
            "layout": .string(chosenLayout.rawValue),
            "granularity": .string(granularity.rawValue),
            "init": .string(initialization.rawValue),
            "layers": .array(summary.gatedLayers.map { .int(Int64($0)) }),
            "tensors_added": .array(summary.tensorsAdded.map { .string($0) }),
            "tensors_changed": .array(summary.tensorsChanged.map { .string($0) }),
            "parameters_added": .int(Int64(summary.parametersAdded)),
            "bytes_added": .int(Int64(addedBytes)),
            "loaders": .array(loaders.loaders.map { .string($0.identifier) }),
            "loader_notes": .array(loaders.notes.map { .string($0) }),
        ]
        var document: JSONObject = [
            "command": .string("add-gate"), "input": .string(input), "architecture": .string(graph.config.family.rawValue), "gate": .object(gate),
        ]
        if format == .gguf { document["gguf_architecture"] = .string(written.config.architecture.ggufName) }
        let writing = ModelWriting(console: console, report: report, document: document,
                                   explicitTypeFallbacks: outputOptions.explicitTypeFallbacks(in: plan))
        try writing.write(written, plan: plan, to: target, options: outputOptions.writeOptions(policy), dryRun: outputOptions.dryRun, transaction: transaction,
                          verifyingAgainst: verify ? graph : nil,
                          thresholds: thresholds.overriding(PostWriteVerification.defaultThresholds(for: plan, initialization: initial)))
    }
}
