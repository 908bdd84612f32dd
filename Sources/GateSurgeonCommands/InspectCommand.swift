import ArgumentParser
import GateSurgeon
import JSON

/// `gatesurgeon inspect`: what a checkpoint holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the tensors and metadata of a checkpoint.",
        discussion: """
            PATH is a .safetensors file, a .gguf file or a model directory (sharded or not).
            Shapes are printed outermost first in both formats, so one model lists the same
            shapes whether it is stored as safetensors or GGUF.

            Examples:
              gatesurgeon inspect model.gguf
              gatesurgeon inspect model/ --json
              gatesurgeon inspect model.safetensors --stats --filter '*.self_attn.*'
            """
    )

    @Argument(help: "A .safetensors file, a .gguf file or a model directory.")
    var path: String

    @Flag(help: "Print one JSON document instead of a table.")
    var json = false

    @Flag(help: "Add min, max, mean, std and NaN/Inf counts per tensor (reads all data).")
    var stats = false

    @Option(help: "Only tensors whose name matches this shell glob, e.g. 'blk.0.*'.")
    var filter: String?

    func run() throws {
        let checkpoint = try Checkpoint(path: path)
        let tensors = InspectReport.listedTensors(of: checkpoint, matching: filter)
        let statistics = stats ? try tensors.map { try TensorStatistics(of: $0) } : nil
        let report = InspectReport(checkpoint: checkpoint, tensors: tensors, statistics: statistics)
        if json {
            print(report.json().serialized(.indented))
        } else {
            print(report.text(), terminator: "")
        }
    }
}
