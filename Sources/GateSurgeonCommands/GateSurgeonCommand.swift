import ArgumentParser

/// The `gatesurgeon` command line: a thin layer over the GateSurgeon library.
public struct GateSurgeonCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "gatesurgeon",
        abstract: "Inspect, convert, quantize and gate LLM checkpoints (safetensors and GGUF).",
        discussion: """
            gatesurgeon reads safetensors files, sharded model directories and GGUF files into
            one model graph. It inserts attention output gates (Gated Attention, Qwen 2025),
            converts dtypes, quantizes to GGUF types, converts between the formats, and checks
            what it wrote against a reference forward pass.
            """,
        version: "0.1.0",
        subcommands: [InspectCommand.self, AddGateCommand.self, ConvertCommand.self, ForwardCommand.self, VerifyCommand.self]
    )

    public init() {}
}
