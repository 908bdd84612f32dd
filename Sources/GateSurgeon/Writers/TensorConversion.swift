import JSON

/// A checkpoint converted tensor by tensor within its format, for models
/// whose architecture gatesurgeon does not model: a dtype cast, `--keep`,
/// and GGUF-to-GGUF (re)quantization need no architecture knowledge. Names,
/// order and metadata stay as stored; config.json travels with a
/// safetensors model, its `dtype` updated when float tensors change type.
public struct TensorConversion: Sendable {
    public let checkpoint: Checkpoint
    public let format: CheckpointFormat
    public let policy: ConversionPolicy
    public let plan: [PlannedTensor]
    /// The config.json found for a safetensors checkpoint, as it will be written.
    public let config: JSONObject?
    /// Where `config` was read, when it was a file of its own.
    public let configPath: String?

    public init(checkpoint: Checkpoint, configPath explicitConfig: String? = nil, format: CheckpointFormat, policy: ConversionPolicy) throws {
        precondition(checkpoint.format == format, "a tensor-by-tensor conversion keeps its format")
        self.checkpoint = checkpoint
        self.format = format
        self.policy = policy
        var plan = checkpoint.tensors.map { stored in
            let tensor = GraphTensor(stored)
            let ggufName = format == .gguf ? stored.name : nil
            return PlannedTensor(tensor: tensor, outputName: stored.name, ggufName: ggufName, decision: policy.decide(for: tensor, ggufName: ggufName, format: format),
                                 expression: tensor.expression)
        }
        if let request = policy.quantization, let gguf = checkpoint.gguf {
            // llama.cpp reads the hyperparameters from the first part.
            guard let model = QuantizationModel(gguf: gguf.parts[0]) else {
                throw ModelError.invalidConfig(path: gguf.path, key: "general.architecture", problem: "quantizing needs the block and head counts llama.cpp stores under the architecture")
            }
            try request.apply(to: &plan, model: model, policy: policy)
        }
        self.plan = format == .gguf ? LlamaQuantizeLayout.ordered(plan) : plan
        if format == .safetensors, let found = try? ModelGraph.findConfig(for: checkpoint, explicitPath: explicitConfig) {
            var config = found.0
            if let dtype = policy.dtype {
                let name = ["F32": "float32", "F16": "float16", "BF16": "bfloat16"][dtype.name]
                for key in ["dtype", "torch_dtype"] where config[key] != nil { config[key] = name.map(JSONValue.string) }
            }
            self.config = config
            self.configPath = found.1.path
        } else {
            config = nil
            configPath = explicitConfig
        }
    }

    /// The files this conversion reads.
    public var inputPaths: [String] { [checkpoint.path] + (configPath.map { [$0] } ?? []) }

    /// Writes the converted checkpoint to `target`, staged in `transaction`.
    public func write(
        to target: OutputTarget, options: WriteOptions, in transaction: OutputTransaction,
        progress: (@Sendable (PlannedTensor, Int, Int) -> Void)? = nil
    ) throws -> WriteSummary {
        try ModelWriter.emit(contents(for: target), to: target, options: options, in: transaction, progress: progress)
    }

    /// What `write` would write, writing nothing (`ModelWriter.dryRun`).
    public func dryRun(to target: OutputTarget, options: WriteOptions, checkedIn transaction: OutputTransaction) throws -> WriteSummary {
        try ModelWriter.emit(contents(for: target), to: target, options: options, in: transaction, dryRun: true, progress: nil)
    }

    private func contents(for target: OutputTarget) -> ModelWriter.OutputContents {
        precondition(target.checkpointFormat == format)
        var source = checkpoint.safetensors?.files.first?.metadata ?? ["format": "pt"]
        source[ModelWriter.embeddedConfigKey] = nil
        var contents = ModelWriter.OutputContents(
            plan: plan, safetensorsMetadata: source, config: config,
            auxiliaryFiles: format == .safetensors ? ModelWriter.auxiliaryFiles(of: checkpoint.path) : [])
        if let gguf = checkpoint.gguf {
            contents.ggufMetadata = gguf.metadata
            GGUFMetadataBuilder.recordFileType(&contents.ggufMetadata, plan: plan, policy: policy, asLlamaQuantize: true)
        }
        return contents
    }
}
