import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon forward`: the reference forward pass on given tokens.
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference F32 forward pass on token ids and report each layer.",
        discussion: """
            MODEL is a .safetensors file, a .gguf file or a model directory. The pass runs on
            the CPU in F32 (quantized weights are dequantized one layer at a time) and matches
            transformers' eager forward pass to rounding.

            Per layer it prints the first-token attention (the softmax weight queries give
            position 0, averaged over heads and positions 1..T-1: the attention sink), the
            largest |value| of the residual stream after the layer, and for gated layers the
            mean gate score, with bar charts. --out writes the logits [tokens, vocab] as the
            F32 tensor "logits" of a safetensors file; --report writes the table as JSON.
            Both replace an existing file.

            Examples:
              gatesurgeon forward model/ --tokens 1,17,42,99
              gatesurgeon forward model.gguf --tokens 1,2,3 --out logits.safetensors
              gatesurgeon forward model/ --tokens 1,2,3 --report report.json --json
            """
    )

    @Argument(help: "A .safetensors file, a .gguf file or a model directory.")
    var model: String

    @Option(help: ArgumentHelp("Token ids, comma-separated.", valueName: "ids"))
    var tokens: TokenList

    @Option(help: ArgumentHelp("Write the logits as tensor 'logits' [tokens, vocab] F32 to this safetensors file.", valueName: "path"))
    var out: String?

    @Option(help: ArgumentHelp("Write the per-layer report as JSON to this file.", valueName: "path"))
    var report: String?

    @Option(help: ArgumentHelp("The config.json of a safetensors model (default: the one in or beside MODEL).", valueName: "path"))
    var config: String?

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

    func run() throws {
        let graph = try ModelGraph(checkpoint: Checkpoint(path: model), configPath: config)
        let result = try ForwardPass(graph: graph).run(tokens: tokens.ids)
        let forwardReport = ForwardReport(result: result, modelPath: model)
        if let out {
            let output = try AtomicOutput(path: out, kind: .file, replacing: true)
            let metadata = [(key: "format", value: "pt"), (key: "model", value: model),
                            (key: "token_ids", value: "[" + tokens.ids.map(String.init).joined(separator: ", ") + "]")]
            try SafetensorsWriter.write(
                [.floats(result.logits, name: "logits", shape: [result.tokenCount, result.vocabSize])],
                metadata: metadata, to: output.temporaryPath)
            try output.commit()
        }
        if let report {
            let output = try AtomicOutput(path: report, kind: .file, replacing: true)
            try Paths.writeText(forwardReport.json().serialized(.indented) + "\n", to: output.temporaryPath)
            try output.commit()
        }
        if json {
            print(forwardReport.json().serialized(.indented))
        } else {
            print(forwardReport.text(), terminator: "")
        }
    }
}
