import JSON

/// One tensor as it will be written: its graph tensor, output name and
/// shape, the type chosen for it, and the expression that produces it.
public struct PlannedTensor: Sendable {
    public var tensor: GraphTensor
    public var outputName: String
    public var decision: ConversionPolicy.Decision
    public var expression: TensorExpression
    public var dtype: DType { decision.dtype }
    public var byteCount: Int { decision.dtype.byteCount(elements: tensor.elementCount) ?? 0 }

    /// Whether the written values equal the source values: bytes copied, a
    /// type widened to F32, or exact transformations only. False for
    /// narrowing and quantizing.
    public var preservesValues: Bool {
        if expression.isByteCopyable(as: dtype) { return true }
        let sources = expression.storedSources.map(\.dtype)
        if sources.isEmpty { return dtype == .f32 }
        return sources.allSatisfy { $0 == dtype || dtype == .f32 }
    }
}

/// Options for writing a model.
public struct WriteOptions: Sendable {
    public var format: CheckpointFormat
    public var policy: ConversionPolicy
    /// Split safetensors output into shards of at most this many bytes.
    public var maxShardSize: Int?
    /// Replace an existing output.
    public var replacing: Bool
    /// GGUF output: take the `tokenizer.*` metadata from this GGUF file.
    public var tokenizerSource: String?

    public init(format: CheckpointFormat, policy: ConversionPolicy = ConversionPolicy(), maxShardSize: Int? = nil, replacing: Bool = false,
                tokenizerSource: String? = nil) {
        self.format = format
        self.policy = policy
        self.maxShardSize = maxShardSize
        self.replacing = replacing
        self.tokenizerSource = tokenizerSource
    }
}

/// What a write produced.
public struct WriteSummary: Sendable {
    public var outputPath: String
    public var files: [String] = []
    public var configPath: String?
    public var tensorCount = 0
    public var parameterCount = 0
    public var totalBytes = 0
    /// Per output type: tensors and bytes.
    public var byType: [DType: (tensors: Int, bytes: Int)] = [:]
    /// Tensors whose values overflowed to infinity when narrowed.
    public var overflows: [(tensor: String, count: Int)] = []
    /// Things the user should know about the output.
    public var warnings: [String] = []

    public var bitsPerWeight: Double { parameterCount == 0 ? 0 : Double(totalBytes * 8) / Double(parameterCount) }
}

/// Collects what narrowing conversions lost while tensors stream out.
final class ConversionLog: @unchecked Sendable {
    private var overflows: [(String, Int)] = []
    func record(_ report: ConversionReport, tensor: String) {
        guard report.overflowed > 0 else { return }
        if let index = overflows.firstIndex(where: { $0.0 == tensor }) {
            overflows[index].1 += report.overflowed
        } else {
            overflows.append((tensor, report.overflowed))
        }
    }
    var entries: [(tensor: String, count: Int)] { overflows.map { ($0.0, $0.1) } }
}

/// Serializes a model graph as safetensors (file or model directory) or GGUF.
public enum ModelWriter {
    /// Decides the output name, type and producing expression of every tensor.
    public static func plan(_ graph: ModelGraph, format: CheckpointFormat, policy: ConversionPolicy) -> [PlannedTensor] {
        var planned: [PlannedTensor] = []
        for tensor in orderedTensors(graph) {
            if format == .safetensors && tensor.name == "rope_freqs.weight" {
                // llama.cpp's encoding of llama3 RoPE scaling; config.json carries it.
                continue
            }
            let ggufName = TensorNaming.ggufName(forTransformers: tensor.name)
            let outputName = format == .gguf ? (ggufName ?? tensor.name) : tensor.name
            var expression = tensor.expression
            if format == .gguf && graph.config.family.permutesQueryKeyRows {
                if tensor.name.hasSuffix("self_attn.q_proj.weight") || tensor.name.hasSuffix("self_attn.k_proj.weight") {
                    let heads = tensor.name.hasSuffix("q_proj.weight") ? graph.config.headCount : graph.config.kvHeadCount
                    expression = expression.gatheringRows(TensorNaming.ropeRowPermutation(rows: tensor.rows, heads: heads))
                }
            }
            let decision = policy.decide(for: tensor, ggufName: ggufName, format: format)
            planned.append(PlannedTensor(tensor: tensor, outputName: outputName, decision: decision, expression: expression))
        }
        if format == .gguf, graph.config.family.permutesQueryKeyRows, case .llama3 = graph.config.ropeScaling,
            !graph.passthrough.contains(where: { $0.name == "rope_freqs.weight" })
        {
            // llama.cpp reads Llama 3 RoPE scaling from this tensor, which its converter emits first.
            let factors = graph.config.llama3RopeFactors()
            let tensor = GraphTensor(name: "rope_freqs.weight", shape: [factors.count], dtype: .f32, expression: .values(factors, rowCount: 1))
            planned.insert(PlannedTensor(tensor: tensor, outputName: tensor.name, decision: .init(dtype: .f32), expression: tensor.expression), at: 0)
        }
        return planned
    }

    /// Tensors in the source file's order, new tensors after the last
    /// tensor of their layer, so a conversion keeps the layout it was given.
    static func orderedTensors(_ graph: ModelGraph) -> [GraphTensor] {
        var position: [String: Int] = [:]
        for (index, name) in graph.sourceOrder.enumerated() { position[name] = index * 2 }
        var lastOfLayer: [Int: Int] = [:]
        for (name, index) in position {
            if let (layer, _) = TensorNaming.splitLayer(name, prefix: "model.layers.") {
                lastOfLayer[layer] = max(lastOfLayer[layer] ?? 0, index)
            }
        }
        let all = graph.allTensors
        let keyed = all.enumerated().map { offset, tensor -> (Int, Int, GraphTensor) in
            if let index = position[tensor.name] { return (index, offset, tensor) }
            if let (layer, _) = TensorNaming.splitLayer(tensor.name, prefix: "model.layers."), let last = lastOfLayer[layer] {
                return (last + 1, offset, tensor)
            }
            return (Int.max / 2, offset, tensor)
        }
        return keyed.sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    /// A streaming producer for a planned tensor: byte copies where the
    /// expression allows it (exact, any type), else decode, transform and
    /// encode a block of rows at a time.
    static func outputTensor(_ planned: PlannedTensor, log: ConversionLog) -> OutputTensor {
        let expression = planned.expression
        let dtype = planned.dtype
        let name = planned.outputName
        let rowLength = planned.tensor.shape.last ?? 1
        if case .stored(let stored) = expression, stored.dtype == dtype {
            return .copying(stored, as: name)
        }
        return OutputTensor(name: name, dtype: dtype, shape: planned.tensor.shape, byteCount: planned.byteCount) { output in
            // Drop the source pages once the tensor is written, so resident
            // memory stays at one tensor however large the model is.
            defer { expression.releaseSourcePages() }
            let rows = expression.rowCount
            let rowElements = max(1, expression.rowElements)
            let chunkRows = max(1, (1 << 22) / rowElements)
            var start = 0
            if expression.isByteCopyable(as: dtype) {
                while start < rows {
                    let end = min(rows, start + chunkRows)
                    var bytes: [UInt8] = []
                    expression.appendRowBytes(start..<end, as: dtype, to: &bytes)
                    try output.write(bytes)
                    start = end
                }
                return
            }
            while start < rows {
                let end = min(rows, start + chunkRows)
                let values = try expression.rowValues(start..<end)
                var encoded = [UInt8](repeating: 0, count: dtype.byteCount(elements: values.count)!)
                let report = try values.withUnsafeBufferPointer { source in
                    try encoded.withUnsafeMutableBytes { destination in
                        try ElementConversion.encode(source, as: dtype, into: destination, rowLength: rowLength)
                    }
                }
                log.record(report, tensor: name)
                try output.write(encoded)
                start = end
            }
        }
    }

    /// Checks that every planned type can be produced before any byte is written.
    static func validate(_ plan: [PlannedTensor], path: String) throws {
        for item in plan where !item.expression.isByteCopyable(as: item.dtype) {
            if !ElementConversion.canEncode(item.dtype) {
                throw NumericsError.unsupported(item.dtype, operation: "\(path): tensor '\(item.tensor.name)': encoding to")
            }
            if let stored = item.expression.storedSources.map(\.dtype).first(where: { !ElementConversion.canDecode($0) }) {
                throw NumericsError.unsupported(stored, operation: "\(path): tensor '\(item.tensor.name)': decoding")
            }
        }
    }

    /// Writes `graph` to `path` atomically. A `.safetensors` or `.gguf` path
    /// gets one file (plus config.json beside a safetensors file); any other
    /// path becomes a model directory with config.json, shards when
    /// `maxShardSize` asks for them, and the input's tokenizer files.
    /// - Complexity: O(model bytes); memory holds one block of rows at a time.
    /// - Parameter plan: the plan from `plan(graph, format: options.format,
    ///   policy: options.policy)` when the caller has already made it (to
    ///   show it before writing); made here otherwise.
    public static func write(
        _ graph: ModelGraph, plan: [PlannedTensor]? = nil, to path: String, options: WriteOptions,
        progress: (@Sendable (PlannedTensor, Int, Int) -> Void)? = nil
    ) throws -> WriteSummary {
        if options.format == .safetensors, graph.ropeScalingNeedsTensor {
            throw ModelError.unsupportedModel(path: graph.sourcePath, problem: "its rope_freqs.weight matches no Llama 3 rope_scaling that config.json could carry; writing safetensors would change the model's RoPE")
        }
        let plan = plan ?? Self.plan(graph, format: options.format, policy: options.policy)
        try validate(plan, path: path)
        try refuseOverwritingInput(graph, output: path)
        let log = ConversionLog()
        var summary = WriteSummary(outputPath: path)
        var outputs: [OutputTensor] = []
        for (index, item) in plan.enumerated() {
            var tensor = outputTensor(item, log: log)
            let produce = tensor.produce
            let total = plan.count
            tensor.produce = { output in
                progress?(item, index, total)
                try produce(output)
            }
            outputs.append(tensor)
            summary.tensorCount += 1
            summary.parameterCount += item.tensor.elementCount
            summary.totalBytes += item.byteCount
            var entry = summary.byType[item.dtype] ?? (0, 0)
            entry.tensors += 1
            entry.bytes += item.byteCount
            summary.byType[item.dtype] = entry
        }
        var ggufMetadata: [(key: String, value: GGUFValue)] = []
        if options.format == .gguf {
            ggufMetadata = try GGUFMetadataBuilder.metadata(
                for: graph, plan: plan, requested: options.policy.quantization ?? options.policy.dtype, tokenizerSource: options.tokenizerSource)
            if !ggufMetadata.contains(where: { $0.key == "tokenizer.ggml.model" }) {
                summary.warnings.append("the GGUF carries no tokenizer (no SentencePiece tokenizer.model beside the input); llama.cpp needs one: pass --tokenizer-from FILE.gguf")
            }
        }
        let isDirectory = !["safetensors", "gguf"].contains(Paths.fileExtension(of: path))
        if isDirectory {
            let output = try AtomicOutput(path: path, kind: .directory, replacing: options.replacing)
            switch options.format {
            case .safetensors:
                summary.files = try SafetensorsWriter.writeSharded(
                    outputs, metadata: outputMetadata(graph), maxShardSize: options.maxShardSize ?? Int.max, into: output.temporaryPath)
            case .gguf:
                let name = "model.gguf"
                try GGUFWriter.write(metadata: ggufMetadata, tensors: outputs, to: output.path(forFile: name))
                summary.files = [name]
            }
            try writeConfig(graph, to: output.path(forFile: "config.json"))
            summary.files += ["config.json"] + (try copyAuxiliaryFiles(from: graph.sourcePath, into: output.temporaryPath))
            try output.commit()
            summary.configPath = Paths.join(path, "config.json")
        } else {
            let output = try AtomicOutput(path: path, kind: .file, replacing: options.replacing)
            switch options.format {
            case .safetensors:
                try SafetensorsWriter.write(outputs, metadata: outputMetadata(graph), to: output.temporaryPath)
            case .gguf:
                try GGUFWriter.write(metadata: ggufMetadata, tensors: outputs, to: output.temporaryPath)
            }
            try output.commit()
            summary.files = [Paths.lastComponent(of: path)]
            if options.format == .safetensors {
                summary.configPath = try writeConfigBeside(graph, file: path)
            }
        }
        summary.overflows = log.entries
        return summary
    }

    static func outputMetadata(_ graph: ModelGraph) -> [(key: String, value: String)] {
        graph.safetensorsMetadata ?? [("format", "pt")]
    }

    /// The input must never be touched: refuse an output path that is the
    /// input file or directory, or contains the input.
    static func refuseOverwritingInput(_ graph: ModelGraph, output: String) throws {
        guard let outputIdentity = Paths.identity(of: output) else { return }
        var inputs = [graph.sourcePath]
        if !Paths.isDirectory(graph.sourcePath) { inputs.append(Paths.directory(of: graph.sourcePath)) }
        for input in inputs {
            if let identity = Paths.identity(of: input), identity == outputIdentity {
                throw FileError.sameAsInput(path: output)
            }
        }
    }

    static func writeConfig(_ graph: ModelGraph, to path: String) throws {
        try Paths.writeText(JSONValue.object(graph.config.transformersConfig()).serialized(.indented) + "\n", to: path)
    }

    /// config.json beside a single output file: `config.json` when the
    /// folder has none, else `<name>.config.json`, so no existing config
    /// (the input's in particular) is ever replaced.
    static func writeConfigBeside(_ graph: ModelGraph, file path: String) throws -> String {
        let directory = Paths.directory(of: path)
        var configPath = Paths.join(directory, "config.json")
        if Paths.exists(configPath) {
            var stem = Paths.lastComponent(of: path)
            if let dot = stem.lastIndex(of: ".") { stem = String(stem[..<dot]) }
            configPath = Paths.join(directory, stem + ".config.json")
        }
        let output = try AtomicOutput(path: configPath, kind: .file, replacing: true)
        try writeConfig(graph, to: output.temporaryPath)
        try output.commit()
        return configPath
    }

    /// Copies the tokenizer and other non-weight files of a model directory.
    static func copyAuxiliaryFiles(from source: String, into directory: String) throws -> [String] {
        let folder = Paths.isDirectory(source) ? source : Paths.directory(of: source)
        var copied: [String] = []
        for name in Paths.entries(of: folder) {
            let lower = name.lowercased()
            let isWeights = [".safetensors", ".gguf", ".bin", ".pt", ".pth", ".index.json"].contains { lower.hasSuffix($0) }
            let isTokenizer = lower.hasPrefix("tokenizer") || lower.hasSuffix(".model") || lower == "special_tokens_map.json"
                || lower == "generation_config.json" || lower == "vocab.json" || lower == "merges.txt" || lower == "chat_template.jinja"
            let path = Paths.join(folder, name)
            guard !isWeights, isTokenizer, !name.hasPrefix("."), !Paths.isDirectory(path) else { continue }
            try Paths.copyFile(from: path, to: Paths.join(directory, name))
            copied.append(name)
        }
        return copied
    }
}
