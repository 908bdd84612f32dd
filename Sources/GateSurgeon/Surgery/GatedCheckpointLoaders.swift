/// A program that loads a gated checkpoint gatesurgeon wrote.
public enum CheckpointLoader: Sendable, Equatable {
    /// transformers' own class, no remote code (Qwen3.5's native gate).
    case transformers(className: String)
    /// Stock transformers through the module the directory carries.
    case transformersRemoteCode
    /// The paper's official code (github.com/qiuzh20/gated_attention), its `Qwen3ForCausalLM`.
    case officialCode
    /// Stock llama.cpp, through its `step35` graph (`Step35`).
    case llamaCpp
    case gatesurgeon

    /// A short identifier, for `--json`.
    public var identifier: String {
        switch self {
        case .transformers: "transformers"
        case .transformersRemoteCode: "transformers-remote-code"
        case .officialCode: "official-code"
        case .llamaCpp: "llama.cpp"
        case .gatesurgeon: "gatesurgeon"
        }
    }

    /// How to load it, in words.
    public var usage: String {
        switch self {
        case .transformers(let className): "transformers: \(className).from_pretrained(dir) (tested: 5.24)"
        case .transformersRemoteCode: "transformers: AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True) (tested: 5.24)"
        case .officialCode: "the paper's code: its Qwen3ForCausalLM (tested: transformers 4.51.3)"
        case .llamaCpp: "llama.cpp: general.architecture step35, whose graph has a headwise output gate (tested: llama-cpp-python 0.3.36)"
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
    /// directory or a single file; for GGUF, as the architecture `ggufArchitecture` picks.
    /// - Throws: what `ModelGraph.preparedForGGUF` throws.
    public init(of graph: ModelGraph, format: CheckpointFormat, isDirectory: Bool, ggufArchitecture: GGUFArchitectureChoice = .automatic) throws {
        let config = graph.config
        guard let gate = config.gate else {
            self.init(loaders: [.gatesurgeon], notes: [])
            return
        }
        switch (format, isDirectory) {
        case (.gguf, _):
            let written = try graph.preparedForGGUF(ggufArchitecture)
            let architecture = written.config.architecture.ggufName
            if written.config.architecture.isStep35 {
                self.init(loaders: [.llamaCpp, .gatesurgeon], notes: [])
                return
            }
            let reason: String
            if gate.layout == .qwen3Next {
                reason = "llama.cpp (0.3.36) aborts on \(architecture) files without linear-attention layers (GGML_ASSERT(buffer) on an unallocated recurrent state)"
            } else if gate.granularity == .elementwise {
                reason = Self.elementwiseInLlamaCpp
            } else if let obstacle = try Step35.obstacle(to: written) {
                reason = "llama.cpp does not load it: its \(architecture) graph has no attention output gate, and step35, which has a headwise one, cannot compute this model: \(obstacle)"
            } else {
                reason = "llama.cpp does not load it: its \(architecture) graph has no attention output gate (written as step35, the file would run there)"
            }
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

    /// Why an elementwise-gated GGUF runs in gatesurgeon only: no graph of
    /// the pinned llama.cpp computes a plain layer with such a gate.
    public static let elementwiseInLlamaCpp = "llama.cpp (0.3.36) has no graph that computes a plain elementwise-gated layer: step35's gate is headwise, the graphs with an elementwise attn_gate add parts these layers lack (post-norms, softplus gates, latent attention, hyper-connections), and qwen35 aborts without linear-attention layers; a headwise gate runs there through step35"

    public init(loaders: [CheckpointLoader], notes: [String]) {
        self.loaders = loaders
        self.notes = notes
    }
}
