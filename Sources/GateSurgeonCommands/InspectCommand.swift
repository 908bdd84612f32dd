import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon inspect`: what a checkpoint holds.
struct InspectCommand: ConsoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors and metadata of a checkpoint.",
        usage: "gatesurgeon inspect <path> [--stats] [--filter <glob>] [<options>]",
        discussion: """
            PATH is a .safetensors file, a .gguf file (any part of a split one opens the whole model, and \
            each tensor's part is shown) or a model directory, sharded or not (a Hugging Face cache folder is \
            its snapshot). Shapes are printed outermost first in both formats, so one model lists the same \
            shapes whether it is stored as safetensors or GGUF. A safetensors checkpoint's tensors are listed \
            by name in natural order (layer 2 before layer 10), a GGUF file's in file order.

            The tokenizer (a GGUF's tokenizer.ggml.* keys, or tokenizer.json in or beside a safetensors \
            checkpoint) is summarized: model, pre-tokenizer, vocabulary size, the tokens added around text and \
            the special tokens.

            Examples:
              gatesurgeon inspect model.gguf
              gatesurgeon inspect model/ --json
              gatesurgeon inspect model-00002-of-00003.gguf
              gatesurgeon inspect model.safetensors --stats --filter '*.self_attn.*'
            """
    )

    @Argument(help: "A .safetensors file, .gguf file or model directory.")
    var path: String

    @Flag(help: "Add min, max, mean, std and NaN/Inf counts per tensor (reads all data).")
    var stats = false

    @Option(help: "Only tensors whose name, in either naming (model.layers.0.self_attn.* or blk.0.attn_*), matches this shell glob.")
    var filter: String?

    @OptionGroup var report: ReportOptions
    @OptionGroup(title: "Threads") var threadOptions: ThreadOptions

    func run(console: Console) throws {
        let checkpoint = try Checkpoint(path: path)
        let tensors = InspectReport.listedTensors(of: checkpoint, matching: filter)
        var statistics: [TensorStatistics]?
        if stats {
            let totalBytes = tensors.reduce(0) { $0 + $1.byteCount }
            let progress = ProgressReporter(console: console, label: "stats", total: totalBytes, steps: tensors.count,
                                            measure: .bytes, quiet: report.quiet, delay: .seconds(1))
            var done = 0
            statistics = try tensors.enumerated().map { index, tensor in
                progress.begin(step: index, done: done, item: tensor.name)
                done += tensor.byteCount
                return try TensorStatistics(of: tensor)
            }
            progress.finish()
        }
        if let filter, tensors.isEmpty { console.warn("--filter '\(filter)' matches no tensor of \(path) (by either naming)") }
        var inspectReport = InspectReport(checkpoint: checkpoint, tensors: tensors, statistics: statistics, filter: filter)
        inspectReport.tokenizer = InspectReport.TokenizerInspection(of: checkpoint)
        if report.json {
            console.print(inspectReport.json().serialized(.indented))
        } else {
            console.writeOutput(inspectReport.text())
        }
    }
}
