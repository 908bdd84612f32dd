import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon forward`: the reference forward pass on given tokens.
struct ForwardCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference F32 forward pass on a prompt and report each layer.",
        usage: "gatesurgeon forward <model> (--prompt <text> | --tokens <ids>) [...]",
        discussion: """
            MODEL is a .safetensors file, a .gguf file or a model directory. The pass runs on the CPU in F32 \
            (quantized weights are dequantized one layer at a time) and matches transformers' eager forward pass \
            to rounding.

            --prompt TEXT (or --prompt-file) is tokenized with the model's own tokenizer: a GGUF's as llama.cpp \
            does, a model directory's tokenizer.json as HF tokenizers does, with the BOS it adds \
            (--no-special-tokens leaves it out). The tokens and the most likely next tokens are printed with \
            their text; --tokens runs token ids as they are given.

            Per layer it prints the first-token attention (the softmax weight queries give position 0, averaged \
            over heads and positions 1..T-1: the attention sink), the largest |value| of the residual stream \
            after the layer, and for gated layers the mean gate score, with bar charts.

            --out writes the logits [tokens, vocab] as the F32 tensor "logits" of a .safetensors file; --report \
            writes the table as a .json file. Neither may replace an input; an existing file is replaced only \
            with --force.

            Examples:
              gatesurgeon forward model.gguf --prompt "The capital of France is"
              gatesurgeon forward model/ --tokens 1,17,42,99
              gatesurgeon forward model.gguf --tokens 1,2,3 --out logits.safetensors
              gatesurgeon forward model/ --tokens 1,2,3 --report report.json --json
            """
    )

    @Argument(help: "A .safetensors file, .gguf file or model directory.")
    var model: String

    @OptionGroup(title: "Input") var input: PromptOptions

    @Option(help: ArgumentHelp("Write the logits as tensor 'logits' [tokens, vocab] F32 to this .safetensors file.", valueName: "path"))
    var out: String?

    @Option(help: ArgumentHelp("Write the per-layer report to this .json file.", valueName: "path"))
    var report: String?

    @Option(help: ArgumentHelp("config.json of a single .safetensors model (default: its own metadata, NAME.config.json, then config.json beside it).", valueName: "path"))
    var config: String?

    @Flag(help: "Replace existing --out and --report files.")
    var force = false

    @OptionGroup(title: "Reporting") var reporting: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    func validate() throws {
        if !input.isGiven { throw ValidationError("give the tokens to run: --prompt TEXT, --prompt-file PATH or --tokens IDS") }
    }

    func run(console: Console) throws {
        let logitsTarget = try out.map { try OutputTarget($0, fileExtensions: ["safetensors"], allowsDirectory: false) }
        let reportTarget = try report.map { try OutputTarget($0, fileExtensions: ["json"], allowsDirectory: false) }
        let graph = try ModelGraph(checkpoint: Checkpoint(path: model), configPath: config)
        guard let prompt = try input.resolve(for: graph) else { throw ValidationError("give --prompt, --prompt-file or --tokens") }
        let transaction = OutputTransaction(inputs: graph.inputPaths + input.inputs, replacing: force)
        let logitsPath = try logitsTarget.map { try transaction.stage($0) }
        let reportPath = try reportTarget.map { try transaction.stage($0) }
        var warnings = Warnings(console: console)
        for path in transaction.removedStalePartials { warnings.warn("removed \(path), left by an interrupted run") }

        let progress = ProgressReporter(console: console, label: "forward", total: graph.layers.count, steps: graph.layers.count,
                                        measure: .steps, quiet: reporting.quiet, delay: .seconds(1))
        // Without --out only the next token's logits are shown: lm_head runs on the last position.
        var options = ForwardOptions()
        options.logitsOfLastPositionOnly = logitsPath == nil
        let result = try ForwardPass(graph: graph, options: options).run(tokens: prompt.ids) { layer in
            progress.begin(step: layer, done: layer, item: "layer \(layer)")
        }
        progress.finish()
        let forwardReport = ForwardReport(result: result, modelPath: model, prompt: prompt)
        if let logitsPath {
            let metadata: Metadata<String> = ["format": "pt", "model": model,
                                              "token_ids": "[" + prompt.ids.map(String.init).joined(separator: ", ") + "]"]
            try SafetensorsWriter.write(
                [.floats(result.logits, name: "logits", shape: [result.tokenCount, result.vocabSize])],
                metadata: metadata, to: logitsPath)
        }
        if let reportPath {
            try Paths.writeText(try forwardReport.json().serialized(.indented) + "\n", to: reportPath)
        }
        // Rendered before the commit: a tokenizer that fails to decode a token fails the run
        // with nothing written.
        let rendered = reporting.json ? try forwardReport.json(warnings: warnings.json).serialized(.indented) + "\n" : try forwardReport.text()
        try transaction.commit()
        console.writeOutput(rendered)
    }
}
