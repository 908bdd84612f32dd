/// The llama.cpp architecture (`general.architecture`) a GGUF output is
/// written as.
public enum GGUFArchitectureChoice: String, Sendable, CaseIterable {
    /// `step35` for a headwise-gated model whose layers step35 computes
    /// exactly, so that the file runs in llama.cpp; the family's own
    /// otherwise (and for a file read as step35, step35 again).
    case automatic = "auto"
    /// llama.cpp's `step35` (`Step35`), or an error saying why it cannot
    /// compute the model.
    case step35
    /// The family's own (`llama`, `qwen2`, `qwen3`, ...), as llama.cpp's
    /// converter writes it; a gate goes in as `blk.N.attn_gate`, which only
    /// gatesurgeon computes for these architectures.
    case family
}

extension ModelGraph {
    /// This graph as a GGUF file carries it: a gate fused into q_proj moved
    /// to a tensor of its own (`withSeparateGate`), and the architecture
    /// `choice` asks for. The model computes the same either way.
    /// - Throws: the reason step35 cannot compute the model, when `choice`
    ///   is `.step35`; what `withSeparateGate` refuses.
    public func preparedForGGUF(_ choice: GGUFArchitectureChoice) throws -> ModelGraph {
        let graph = try withSeparateGate()
        if graph.config.architecture.isStep35 {
            // Read from a step35 file (or prepared before): step35 stays unless the family's own is asked for.
            return choice == .family ? Step35.uncarrying(graph) : Step35.carrying(graph)
        }
        switch choice {
        case .family:
            return graph
        case .automatic:
            guard graph.config.gate?.granularity == .headwise, try Step35.obstacle(to: graph) == nil else { return graph }
        case .step35:
            if let reason = try Step35.obstacle(to: graph) {
                throw ModelError.unsupportedModel(path: sourcePath, problem: "cannot be written as llama.cpp's step35 architecture: \(reason)")
            }
        }
        return Step35.carrying(graph)
    }
}
