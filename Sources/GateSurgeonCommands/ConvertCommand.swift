import ArgumentParser
import GateSurgeon

/// `gatesurgeon convert`: change dtype, quantize, or change format.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert dtypes, quantize to GGUF types, and convert between safetensors and GGUF.",
        discussion: """
            OUT's extension picks the format: .safetensors, .gguf, or a directory (a safetensors
            model directory with config.json and the tokenizer files). Quantizing keeps 1-D
            tensors (norms, biases) in F32; rows that are not a whole number of blocks fall back
            to a smaller block type the way llama-quantize does, and the plan says so.
            safetensors -> GGUF uses llama.cpp's tensor names and metadata, including the Q/K
            row permutation of Llama and Mistral; GGUF -> safetensors undoes it and writes a
            config.json.

            Examples:
              gatesurgeon convert model/ model.bf16.safetensors --dtype bf16
              gatesurgeon convert model/ model.Q4_K.gguf --quant q4_k
              gatesurgeon convert model.gguf model-dir/ --dtype f32
              gatesurgeon convert model/ out/ --dtype bf16 --max-shard-size 5GB
            """
    )

    @Argument(help: "Input: a .safetensors file, a model directory, or a .gguf file.")
    var input: String

    @Argument(help: "Output: a .safetensors or .gguf file, or a directory.")
    var output: String

    @Option(help: "config.json for a .safetensors input (default: the one beside it).")
    var config: String?

    @Flag(help: "After writing, run input and output on the same tokens; exact for lossless conversions, per-type bounds otherwise.")
    var verify = false

    @OptionGroup var outputOptions: OutputOptions

    func validate() throws {
        try outputOptions.validate(forOutput: output)
        if outputOptions.quantization != nil && outputFormat(for: output) != .gguf {
            throw ValidationError("--quant writes GGUF block types; give an output path ending in .gguf")
        }
    }

    func run() throws {
        let checkpoint = try Checkpoint(path: input)
        let graph = try ModelGraph(checkpoint: checkpoint, configPath: config)
        let format = outputFormat(for: output)
        let plan = ModelWriter.plan(graph, format: format, policy: outputOptions.policy)
        print("convert: \(checkpoint.format.rawValue) -> \(format.rawValue), \(graph.config.family.rawValue), \(plan.count) tensors")
        try writeModel(graph, plan: plan, to: output, options: outputOptions.writeOptions(format: format),
                       verifyingAgainst: verify ? graph : nil, thresholds: PostWriteVerification.thresholds(for: plan))
    }
}
