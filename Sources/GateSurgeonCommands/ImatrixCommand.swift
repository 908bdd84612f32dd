import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon imatrix`: an importance matrix for importance-weighted
/// quantization, computed as llama-imatrix computes it.
struct ImatrixCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "imatrix",
        abstract: "Compute an importance matrix from a text, as llama-imatrix does.",
        usage: "gatesurgeon imatrix <model> --text <path> --out <path> [<options>]",
        discussion: """
            MODEL is a .safetensors file, a .gguf file or a model directory. The text is tokenized with the \
            model's own tokenizer (a GGUF's as llama.cpp does, tokenizer.json as HF tokenizers does), with the \
            BOS it adds. As llama-imatrix does, the tokens are cut into chunks of --context tokens; each chunk \
            runs as its own sequence from position 0 with its first token replaced by BOS (when the tokenizer \
            adds one), and for every matrix multiplication inside the layers the squared inputs are summed per \
            column (per expert for expert weights). At least two chunks are needed, and for a model without \
            experts chunks of at least 16 tokens (llama-imatrix skips smaller multiplications).

            The output is llama.cpp's GGUF importance-matrix format (llama-imatrix's default), which convert \
            --imatrix and llama-quantize --imatrix read; the dataset recorded in it is the text file's path as \
            given. The forward pass runs in F32: the sums differ from llama-imatrix's F16 defaults by ~1e-3 \
            relative; on an F32 model they agree to ~1e-6 with those of llama-imatrix -ctk f32 -ctv f32 \
            -fa off.

            Examples:
              gatesurgeon imatrix model/ --text calibration.txt --out imatrix.gguf
              gatesurgeon imatrix model.gguf --text wiki.txt --chunks 100 -o imatrix.gguf
              gatesurgeon convert model/ out.gguf --quant iq2_xs --imatrix imatrix.gguf
            """
    )

    @Argument(help: "A .safetensors file, .gguf file or model directory.")
    var model: String

    @Option(help: ArgumentHelp("The UTF-8 text to compute the matrix on.", valueName: "path"))
    var text: String

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The importance matrix to write (.gguf).", valueName: "path"))
    var out: String

    @Option(name: [.customShort("c"), .long], parsing: .unconditional, help: ArgumentHelp("Tokens per chunk (llama-imatrix -c).", valueName: "n"))
    var context = 512

    @Option(parsing: .unconditional, help: ArgumentHelp("Use at most this many chunks (default: every whole chunk of the text).", valueName: "n"))
    var chunks: Int?

    @Option(help: ArgumentHelp("config.json of a single .safetensors model (default: its own metadata, NAME.config.json, then config.json beside it).", valueName: "path"))
    var config: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    @OptionGroup(title: "Reporting") var reporting: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    /// llama.cpp's context limit guard: a chunk longer than this is a typo.
    static let maximumContext = 1 << 20

    func validate() throws {
        if context < 1 || context > Self.maximumContext {
            throw ValidationError("--context must be between 1 and \(Self.maximumContext)")
        }
        if let chunks, chunks < 2 {
            throw ValidationError("--chunks must be at least 2 (llama-imatrix's minimum)")
        }
    }

    func run(console: Console) throws {
        let target = try OutputTarget(out, fileExtensions: ["gguf"], allowsDirectory: false)
        let graph = try ModelGraph(checkpoint: Checkpoint(path: model), configPath: config)
        let transaction = OutputTransaction(inputs: graph.inputPaths + [text], replacing: force)
        let outputPath = try transaction.stage(target)
        var warnings = Warnings(console: console)
        for path in transaction.removedStalePartials { warnings.warn("removed \(path), left by an interrupted run") }
        guard let tokenizer = try Tokenizer(model: graph) else { throw TokenizerError.noTokenizer(model: model) }
        let tokens = try tokenizer.encode(try TextFile.read(text), addSpecialTokens: true)
        let usable = tokens.count / context
        let chunkCount = min(chunks ?? usable, usable)
        let progress = ProgressReporter(console: console, label: "imatrix", total: chunkCount, steps: chunkCount,
                                        measure: .steps, quiet: reporting.quiet, delay: .seconds(1))
        let matrix = try ImportanceMatrix.collect(
            graph: graph, tokens: tokens, chunkSize: context, chunks: chunkCount, bos: tokenizer.summary.addedBefore.first,
            dataset: text
        ) { chunk, total in
            progress.begin(step: chunk, done: chunk, item: "chunk \(chunk + 1)/\(total)")
        }
        progress.finish()
        try matrix.writeGGUF(to: outputPath)
        try transaction.commit()
        let summary: JSONValue = .object([
            "output": .string(out),
            "text": .string(text),
            "tokens": .int(Int64(tokens.count)),
            "chunks": .int(Int64(chunkCount)),
            "chunk_size": .int(Int64(context)),
            "entries": .int(Int64(matrix.entries.count)),
            "warnings": warnings.json,
        ])
        if reporting.json {
            console.print(summary.serialized(.indented))
        } else {
            console.print("wrote \(out): \(matrix.entries.count) entries from \(chunkCount) chunks of \(context) tokens (\(tokens.count) tokens in \(text))")
        }
    }
}
