import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon convert`: change dtype, quantize, or change format.
struct ConvertCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert dtypes, quantize to GGUF types, convert safetensors and GGUF.",
        discussion: """
            OUT picks the format: a path ending in .safetensors or .gguf is that file; a path ending in /, an \
            existing directory, or a path without extension is a safetensors model directory (config.json, \
            tokenizer files, shards with --max-shard-size). A single .safetensors output carries its config.json \
            in its own metadata. --split-max-size/--split-max-tensors (or --max-shard-size) write a .gguf \
            output as parts NAME-00001-of-0000N.gguf, byte for byte as llama-gguf-split splits it. --dry-run \
            prints the plan and the files with their sizes, and writes nothing.

            Quantizing keeps 1-D tensors (norms, biases) in F32; rows that are not a whole number of blocks fall \
            back to a smaller block type the way llama-quantize does, and the plan says so. safetensors to GGUF \
            uses llama.cpp's tensor names and metadata, including the Q/K row permutation of Llama and Mistral; \
            GGUF to safetensors undoes it and writes a config.json. A dtype cast that stays in its format \
            (--dtype to .safetensors, GGUF to GGUF) works for any architecture. A headwise-gated model goes into \
            GGUF as llama.cpp's step35 where that computes it exactly, so the file runs in llama.cpp \
            (--gguf-arch picks otherwise).

            Examples:
              gatesurgeon convert model/ model.bf16.safetensors --dtype bf16
              gatesurgeon convert model/ model.Q4_K.gguf --quant q4_k
              gatesurgeon convert model/ m.gguf --quant q4_k --output-type q6_k
              gatesurgeon convert model.gguf model-dir/ --dtype f32
              gatesurgeon convert model/ sharded/ --dtype bf16 --max-shard-size 5GB
              gatesurgeon convert model/ model.gguf --quant q4_k_m --split-max-size 45G
              gatesurgeon convert big-00001-of-00003.gguf q4.gguf --quant q4_k_m --dry-run
              gatesurgeon convert model/ model.Q8_0.gguf --quant q8_0 --verify --json
            """
    )

    @Argument(help: "Input: a .safetensors file, a model directory (or Hugging Face cache folder), or a .gguf file (any part of a split one).")
    var input: String

    @Argument(help: "Output: a .safetensors or .gguf file, or a directory (ending in /).")
    var output: String

    @Option(help: ArgumentHelp("config.json of a single .safetensors input (default: its own metadata, NAME.config.json, then config.json beside it).", valueName: "path"))
    var config: String?

    @Flag(help: "After writing, run input and output on the same tokens: exact for lossless conversions, per-type bounds otherwise (the limits below override them).")
    var verify = false

    @OptionGroup(title: "Output") var outputOptions: OutputOptions
    @OptionGroup(title: "Limits of --verify") var thresholds: ThresholdOptions
    @OptionGroup(title: "Reporting") var report: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    func validate() throws {
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
        let checkpoint = try Checkpoint(path: input)
        let graph: ModelGraph
        do {
            graph = try ModelGraph(checkpoint: checkpoint, configPath: config)
        } catch let error as ModelError where error.isUnknownArchitecture && checkpoint.format == target.checkpointFormat {
            // A cast within one format needs no knowledge of the architecture.
            if verify {
                throw ValidationError("--verify runs the model, and \(error.problem); convert without --verify")
            }
            try convertTensors(checkpoint, to: target, console: console)
            return
        }
        let transaction = OutputTransaction(inputs: graph.inputPaths + outputOptions.inputs, replacing: outputOptions.force)
        try outputOptions.check(target, in: transaction)
        let policy = try outputOptions.policy()
        let written = try outputOptions.prepared(graph, for: target)
        let plan = try ModelWriter.plan(written, format: target.checkpointFormat, policy: policy, ggufArchitecture: outputOptions.ggufChoice)
        let carrier = target.checkpointFormat == .gguf ? " (GGUF architecture \(written.config.architecture.ggufName))" : ""
        if report.showsPlan {
            console.print("convert: \(checkpoint.format.rawValue) -> \(target.checkpointFormat.rawValue), \(graph.config.family.rawValue)\(carrier), \(graph.config.layerCount) layers, \(plan.count) tensors")
        }
        var document: JSONObject = [
            "command": .string("convert"), "input": .string(input), "architecture": .string(graph.config.family.rawValue),
        ]
        if target.checkpointFormat == .gguf { document["gguf_architecture"] = .string(written.config.architecture.ggufName) }
        let writing = ModelWriting(console: console, report: report, document: document,
                                   explicitTypeFallbacks: outputOptions.explicitTypeFallbacks(in: plan))
        try writing.write(written, plan: plan, to: target, options: outputOptions.writeOptions(policy), dryRun: outputOptions.dryRun, transaction: transaction,
                          verifyingAgainst: verify ? graph : nil,
                          thresholds: thresholds.overriding(PostWriteVerification.defaultThresholds(for: plan)))
    }

    /// The tensor-by-tensor conversion of a checkpoint whose architecture
    /// gatesurgeon does not model: names, order and metadata kept, types changed.
    private func convertTensors(_ checkpoint: Checkpoint, to target: OutputTarget, console: Console) throws {
        let transaction = OutputTransaction(inputs: [checkpoint.path] + (config.map { [$0] } ?? []) + outputOptions.inputs, replacing: outputOptions.force)
        try outputOptions.check(target, in: transaction)
        let policy = try outputOptions.policy()
        let conversion = try TensorConversion(checkpoint: checkpoint, configPath: config, format: target.checkpointFormat, policy: policy)
        if report.showsPlan {
            console.print("convert: \(checkpoint.format.rawValue) -> \(target.checkpointFormat.rawValue), architecture not modelled: tensors converted one by one, names and metadata kept, \(conversion.plan.count) tensors")
        }
        let writing = ModelWriting(console: console, report: report, document: [
            "command": .string("convert"), "input": .string(input), "architecture": .null,
        ], explicitTypeFallbacks: outputOptions.explicitTypeFallbacks(in: conversion.plan))
        try writing.write(conversion, to: target, options: outputOptions.writeOptions(policy), dryRun: outputOptions.dryRun, transaction: transaction)
    }
}
