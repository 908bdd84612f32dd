/// A program that loads a gated checkpoint gatesurgeon wrote.
public enum CheckpointLoader: Sendable, Equatable {
    /// transformers' own class, no remote code (Qwen3.5's native gate).
    case transformers(className: String)
    /// Stock transformers through the module the directory carries.
    case transformersRemoteCode
    /// The paper's official code (github.com/qiuzh20/gated_attention), its `Qwen3ForCausalLM`.
    case officialCode
    case gatesurgeon

    /// A short identifier, for `--json`.
    public var identifier: String {
        switch self {
        case .transformers: "transformers"
        case .transformersRemoteCode: "transformers-remote-code"
        case .officialCode: "official-code"
        case .gatesurgeon: "gatesurgeon"
        }
    }

    /// How to load it, in words.
    public var usage: String {
        switch self {
        case .transformers(let className): "transformers: \(className).from_pretrained(dir) (tested: 5.24)"
        case .transformersRemoteCode: "transformers: AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True) (tested: 5.24)"
        case .officialCode: "the paper's code: its Qwen3ForCausalLM (tested: transformers 4.51.3)"
        case .gatesurgeon: "gatesurgeon: forward, verify, convert, quantize"
        }
    }
}

/// Where a gated checkpoint loads, and why not elsewhere.
public struct CheckpointLoaders: Sendable, Equatable {
    public var loaders: [CheckpointLoader]
    /// What stops the other loaders users ask for, one line each.
    public var notes: [String]

    /// The loaders of `graph` (gated) written as `format`, as a model
    /// directory or a single file.
    public init(of graph: ModelGraph, format: CheckpointFormat, isDirectory: Bool) {
        let config = graph.config
        guard let gate = config.gate else {
            self.init(loaders: [.gatesurgeon], notes: [])
            return
        }
        switch (format, isDirectory) {
        case (.gguf, _):
            let reason = gate.layout == .qwen3Next
                ? "llama.cpp (0.3.36) aborts on \(config.architecture.ggufName) files without linear-attention layers (GGML_ASSERT(buffer) on an unallocated recurrent state)"
                : "llama.cpp does not load it: its \(config.architecture.ggufName) graph has no attention output gate, so blk.N.attn_gate is a tensor it does not expect"
            self.init(loaders: [.gatesurgeon], notes: [reason])
        case (.safetensors, false):
            self.init(loaders: [.gatesurgeon], notes: ["a single .safetensors file: write a model directory (OUT/) for transformers, which loads directories"])
        case (.safetensors, true):
            switch gate.layout {
            case .qwen3Next:
                self.init(loaders: [.transformers(className: config.architecture.transformersClass), .gatesurgeon], notes: [])
            case .gatedAttention:
                self.init(loaders: [.officialCode, .transformersRemoteCode, .gatesurgeon], notes: [])
            case .separate:
                self.init(loaders: [.transformersRemoteCode, .gatesurgeon], notes: [])
            }
        }
    }

    public init(loaders: [CheckpointLoader], notes: [String]) {
        self.loaders = loaders
        self.notes = notes
    }
}
