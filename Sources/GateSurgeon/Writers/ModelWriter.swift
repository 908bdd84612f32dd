import JSON

/// One tensor as it will be written: its graph tensor, output name and
/// shape, the type chosen for it, and the expression that produces it.
public struct PlannedTensor: Sendable {
    public var tensor: GraphTensor
    public var outputName: String
    /// llama.cpp's name for it, when it has one (also for safetensors output:
    /// `keep` globs match either naming).
    public var ggufName: String?
    public var decision: ConversionPolicy.Decision
    public var expression: TensorExpression
    /// The importance vector the quantizer weighs columns by (per expert
    /// for a 3-D tensor), from an importance matrix.
    public var importance: [Float]? = nil
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
    public var policy: ConversionPolicy
    /// Split a safetensors directory into shards of at most this many bytes.
    public var maxShardSize: Int?
    /// GGUF output: take the `tokenizer.*` metadata from this GGUF file.
    public var tokenizerSource: String?
    /// GGUF output: the `tokenizer.ggml.pre` name for a byte-level BPE
    /// tokenizer whose check hash llama.cpp's converter does not know (it
    /// names the regex llama.cpp splits text with).
    public var tokenizerPre: String?

    public init(policy: ConversionPolicy = ConversionPolicy(), maxShardSize: Int? = nil, tokenizerSource: String? = nil, tokenizerPre: String? = nil) {
        self.policy = policy
        self.maxShardSize = maxShardSize
        self.tokenizerSource = tokenizerSource
        self.tokenizerPre = tokenizerPre
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
    public var warnings: [WriteWarning] = []

    public var bitsPerWeight: Double { parameterCount == 0 ? 0 : Double(totalBytes * 8) / Double(parameterCount) }
}

/// Something about a finished write the user should know.
public enum WriteWarning: Sendable, Equatable {
    /// The GGUF file has no `tokenizer.*` metadata, which llama.cpp needs.
    case noTokenizer
    /// The tokenizer's pre-tokenizer hash is not in the converter's table
    /// (where the converter stops) and `WriteOptions.tokenizerPre` named
    /// none: `writtenName`, the configuration tokenizer.json uses, was written.
    case unknownPreTokenizer(hash: String, writtenName: String)
    /// The GGUF source's tokenizer could not go into the output: a single
    /// .safetensors file has no place for it, or its vocabulary has no
    /// tokenizer.json equivalent (`reason`).
    case tokenizerNotWritten(reason: String)
    /// The model renormalises its top-k expert weights (or not) and
    /// llama.cpp, which reads no such setting, does the opposite for the
    /// architecture: llama.cpp will compute something else.
    case topKNormalizationDiffers(model: Bool, llamaCpp: Bool)
}

/// Collects what narrowing conversions lost while tensors stream out
/// (from whichever thread writes).
final class ConversionLog: Sendable {
    private let overflows = Locked<[(tensor: String, count: Int)]>([])

    func record(_ report: ConversionReport, tensor: String) {
        guard report.overflowed > 0 else { return }
        overflows.withLock { entries in
            if let index = entries.firstIndex(where: { $0.tensor == tensor }) {
                entries[index].count += report.overflowed
            } else {
                entries.append((tensor, report.overflowed))
            }
        }
    }

    var entries: [(tensor: String, count: Int)] { overflows.withLock { $0 } }
}

/// Serializes a model graph as safetensors (file or model directory) or GGUF.
public enum ModelWriter {
    /// Decides the output name, type and producing expression of every tensor.
    ///
    /// In GGUF, each layer's experts become llama.cpp's stacked 3-D tensors
    /// (`ffn_{gate,up,down}_exps`), placed where the converter puts them:
    /// at the last expert tensor of their part in source order.
    /// - Throws: what llama-quantize would refuse (`QuantizationRequest.apply`).
    public static func plan(_ graph: ModelGraph, format: CheckpointFormat, policy: ConversionPolicy) throws -> [PlannedTensor] {
        var planned: [PlannedTensor] = []
        let architecture = graph.config.architecture
        if format == .gguf, let gate = graph.config.gate, gate.layout != .separate, !architecture.gatedByDefault {
            // llama.cpp's graph for this architecture has no gate rows in attn_q: the
            // file would not load (and the Llama row permutation needs heads of even size).
            throw ModelError.unsupportedModel(
                path: graph.sourcePath,
                problem: "its \(gate.layout.rawValue) gate is fused into q_proj, which a \(graph.config.family.rawValue) GGUF cannot carry; GGUF carries a gate only as its own tensor, blk.N.attn_gate (the separate layout)")
        }
        let asLlamaQuantize = format == .gguf && graph.sourceFormat == .gguf
        var pendingExperts: [String: [Int: GraphTensor]] = [:]
        for var tensor in orderedTensors(graph) {
            if format == .gguf, let expertCount = graph.config.experts?.count,
                let (layer, expert, part) = architecture.expertComponents(of: tensor.name)
            {
                let key = architecture.ggufExpertName(layer: layer, part: part)
                pendingExperts[key, default: [:]][expert] = tensor
                guard let members = pendingExperts[key], members.count == expertCount else { continue }
                let ordered = (0..<expertCount).compactMap { members[$0] }
                let stackedName = architecture.expertTensorName(layer: layer, expert: 0, part: part)!.replacingFirst(".0.", with: ".*.")
                tensor = GraphTensor(name: stackedName, shape: [expertCount] + tensor.shape, dtype: tensor.dtype,
                                     expression: .concatenatingRows(ordered.map(\.expression)))
                let decision = policy.decide(for: tensor, ggufName: key, format: format)
                planned.append(PlannedTensor(tensor: tensor, outputName: key, ggufName: key, decision: decision, expression: tensor.expression))
                continue
            }
            if format == .safetensors && tensor.name == "rope_freqs.weight" {
                // llama.cpp's encoding of llama3 RoPE scaling; config.json carries it.
                continue
            }
            let ggufName = architecture.ggufName(forTransformers: tensor.name)
            let outputName = format == .gguf ? (ggufName ?? tensor.name) : tensor.name
            var expression = tensor.expression
            if format == .gguf && architecture.permutesQueryKeyRows {
                if tensor.name.hasSuffix("self_attn.q_proj.weight") || tensor.name.hasSuffix("self_attn.k_proj.weight") {
                    // The graph checked these shapes: rows split into heads of even size.
                    let heads = tensor.name.hasSuffix("q_proj.weight") ? graph.config.headCount : graph.config.kvHeadCount
                    expression = expression.gatheringRows(Architecture.ropeRowPermutation(rows: expression.rowCount, heads: heads))
                }
            }
            if format == .gguf && architecture.ggufNormOffset != 0 && Architecture.isNorm(tensor.name) {
                expression = expression.offset(by: architecture.ggufNormOffset)
            }
            if asLlamaQuantize {
                tensor.shape = LlamaQuantizeLayout.ggmlShape(tensor.shape)
            }
            let decision = policy.decide(for: tensor, ggufName: ggufName, format: format)
            planned.append(PlannedTensor(tensor: tensor, outputName: outputName, ggufName: ggufName, decision: decision, expression: expression))
        }
        if format == .gguf, graph.config.architecture.storesRopeFrequencies, case .llama3 = graph.config.ropeScaling,
            !graph.passthrough.contains(where: { $0.name == "rope_freqs.weight" })
        {
            // llama.cpp reads Llama 3 RoPE scaling from this tensor, which its converter emits first.
            let factors = graph.config.llama3RopeFactors()
            let tensor = GraphTensor(name: "rope_freqs.weight", shape: [factors.count], dtype: .f32, expression: .values(factors, rowCount: 1))
            planned.insert(PlannedTensor(tensor: tensor, outputName: tensor.name, ggufName: tensor.name, decision: .init(dtype: .f32), expression: tensor.expression), at: 0)
        }
        if format == .gguf, let request = policy.quantization {
            let config = graph.config
            let model = QuantizationModel(
                architecture: architecture.ggufName, layerCount: config.layerCount, headCount: config.headCount,
                headCountKV: config.kvHeadCount, expertCount: config.experts?.count ?? 0)
            try request.apply(to: &planned, model: model, policy: policy)
        }
        return asLlamaQuantize ? LlamaQuantizeLayout.ordered(planned) : planned
    }

    /// Tensors in the source file's order, new tensors after the last
    /// tensor of their layer, so a conversion keeps the layout it was given.
    static func orderedTensors(_ graph: ModelGraph) -> [GraphTensor] {
        var position: [String: Int] = [:]
        for (index, name) in graph.sourceOrder.enumerated() { position[name] = index * 2 }
        var lastOfLayer: [Int: Int] = [:]
        for (name, index) in position {
            if let (layer, _) = Architecture.splitLayer(name, prefix: Architecture.transformersLayerPrefix) {
                lastOfLayer[layer] = max(lastOfLayer[layer] ?? 0, index)
            }
        }
        let all = graph.allTensors
        let keyed = all.enumerated().map { offset, tensor -> (Int, Int, GraphTensor) in
            if let index = position[tensor.name] { return (index, offset, tensor) }
            if let (layer, _) = Architecture.splitLayer(tensor.name, prefix: Architecture.transformersLayerPrefix), let last = lastOfLayer[layer] {
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
            return .copying(stored, as: name, shape: planned.tensor.shape)
        }
        if case .stored(let stored) = expression, ElementConversion.convertsDirectly(from: stored.dtype, to: dtype) {
            return castingDirectly(stored, to: dtype, planned: planned, log: log)
        }
        return OutputTensor(name: name, dtype: dtype, shape: planned.tensor.shape, byteCount: planned.byteCount) { output in
            // Drop the source pages once the tensor is written, so resident
            // memory stays at one tensor however large the model is.
            defer { expression.releaseSourcePages() }
            let rows = expression.rowCount
            let rowElements = max(1, expression.rowElements)
            var chunkRows = max(1, (1 << 22) / rowElements)
            // A per-expert importance vector covers a run of rows: chunks end on its boundaries.
            let importance = planned.importance
            let importanceGroups = importance.map { $0.count / max(1, rowLength) } ?? 1
            let rowsPerGroup = importanceGroups > 1 ? rows / importanceGroups : rows
            if importanceGroups > 1 { chunkRows = max(1, chunkRows / rowsPerGroup) * rowsPerGroup }
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
                let elementCount = (end - start) * rowElements
                let byteCount = dtype.byteCount(elements: elementCount)!
                let weights: ArraySlice<Float>? = importance.map { vector in
                    importanceGroups > 1 ? vector[(start / rowsPerGroup * rowLength)..<(end / rowsPerGroup * rowLength)] : vector[...]
                }
                func encode(into destination: UnsafeMutableRawBufferPointer) throws -> ConversionReport {
                    try withRowValues(expression, start..<end) { source in
                        if let weights {
                            try weights.withUnsafeBufferPointer { vector in
                                try ElementConversion.encode(source, as: dtype, into: destination, rowLength: rowLength, importance: vector)
                            }
                        } else {
                            try ElementConversion.encode(source, as: dtype, into: destination, rowLength: rowLength)
                        }
                    }
                }
                var report = ConversionReport()
                if byteCount <= OutputFile.bufferCapacity {
                    // Straight into the output's buffer: no array to fill and copy.
                    try output.write(count: byteCount) { destination in report = try encode(into: destination) }
                } else {
                    var encoded = [UInt8](repeating: 0, count: byteCount)
                    report = try encoded.withUnsafeMutableBytes { try encode(into: $0) }
                    try output.write(encoded)
                }
                log.record(report, tensor: name)
                start = end
            }
        }
    }

    /// Calls `body` with the F32 values of rows `rows`: read in place from
    /// the mapping when the expression is a stored F32 tensor (aligned, on a
    /// little-endian host), whose pages are dropped after; decoded otherwise.
    static func withRowValues<R>(
        _ expression: TensorExpression, _ rows: Range<Int>, _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) throws -> R {
        #if _endian(little)
        if case .stored(let stored) = expression, stored.dtype == .f32, stored.byteCount == stored.elementCount * 4 {
            let rowBytes = stored.rowLength * 4
            let bytes = (stored.byteRange.lowerBound + rows.lowerBound * rowBytes)..<(stored.byteRange.lowerBound + rows.upperBound * rowBytes)
            let aligned = stored.file.withBytes(in: bytes) { Int(bitPattern: $0.baseAddress) % MemoryLayout<Float>.alignment == 0 }
            if aligned {
                stored.file.prefetch(bytes)
                defer { stored.file.releasePages(in: bytes) }
                return try stored.file.withBytes(in: bytes) { raw in
                    try body(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: Float.self), count: rows.count * stored.rowLength))
                }
            }
        }
        #endif
        return try expression.rowValues(rows).withUnsafeBufferPointer(body)
    }

    /// A float cast from the mapped input straight into the output's buffer,
    /// one buffer at a time: the pages of the next piece are mapped before
    /// it is read and dropped after, so the cast runs at the speed of
    /// reading and writing with memory held to the two output buffers.
    static func castingDirectly(_ stored: StoredTensor, to dtype: DType, planned: PlannedTensor, log: ConversionLog) -> OutputTensor {
        let name = planned.outputName
        return OutputTensor(name: name, dtype: dtype, shape: planned.tensor.shape, byteCount: planned.byteCount) { output in
            let count = stored.elementCount
            let sourceWidth = stored.dtype.blockBytes, targetWidth = dtype.blockBytes
            let piece = OutputFile.bufferCapacity / targetWidth
            var report = ConversionReport()
            var start = 0
            while start < count {
                let elements = min(piece, count - start)
                let bytes = (stored.byteRange.lowerBound + start * sourceWidth)..<(stored.byteRange.lowerBound + (start + elements) * sourceWidth)
                stored.file.prefetch(bytes)
                try stored.file.withBytes(in: bytes) { source in
                    try output.write(count: elements * targetWidth) { destination in
                        report += ElementConversion.convert(source.baseAddress!, from: stored.dtype, to: dtype, count: elements, into: destination.baseAddress!)
                    }
                }
                stored.file.releasePages(in: bytes)
                start += elements
            }
            log.record(report, tensor: name)
        }
    }

    /// Checks that every planned type can be produced before any byte is
    /// written: rows that are whole blocks of it (llama-quantize aborts on an
    /// explicit type that does not fit), an encoder and a decoder.
    public static func validate(_ plan: [PlannedTensor], path: String) throws {
        for item in plan where item.dtype.blockSize > 1 && (item.tensor.shape.last ?? 1) % item.dtype.blockSize != 0 {
            throw GGUFError.rowNotWholeBlocks(path: path, tensor: item.outputName, dtype: item.dtype, rowLength: item.tensor.shape.last ?? 1)
        }
        for item in plan where !item.expression.isByteCopyable(as: item.dtype) {
            if !ElementConversion.canEncode(item.dtype) {
                throw NumericsError.unsupported(item.dtype, operation: "\(path): tensor '\(item.tensor.name)': encoding to")
            }
            if let stored = item.expression.storedSources.map(\.dtype).first(where: { !ElementConversion.canDecode($0) }) {
                throw NumericsError.unsupported(stored, operation: "\(path): tensor '\(item.tensor.name)': decoding")
            }
        }
    }

    /// Writes `graph` to `target`, staged in `transaction`: nothing appears
    /// at the target until the caller commits the transaction (with any
    /// other outputs of the same command). A `.safetensors` file carries its
    /// config.json in its metadata (key `config.json`), so it is complete on
    /// its own; a `.gguf` file carries llama.cpp's metadata; a directory
    /// gets config.json, shards and an index when `maxShardSize` asks for
    /// them, and the input's tokenizer files.
    /// - Complexity: O(model bytes); memory holds one block of rows at a time.
    /// - Parameter plan: the plan from `plan(graph, format: target.checkpointFormat,
    ///   policy: options.policy)` when the caller has already made it (to
    ///   show it before writing); made here otherwise.
    public static func write(
        _ graph: ModelGraph, plan: [PlannedTensor]? = nil, to target: OutputTarget, options: WriteOptions,
        in transaction: OutputTransaction, progress: (@Sendable (PlannedTensor, Int, Int) -> Void)? = nil
    ) throws -> WriteSummary {
        let format = target.checkpointFormat
        if format == .safetensors, graph.ropeScalingNeedsTensor {
            throw ModelError.unsupportedModel(path: graph.sourcePath, problem: "its rope_freqs.weight matches no Llama 3 rope_scaling that config.json could carry; writing safetensors would change the model's RoPE")
        }
        let plan = try plan ?? Self.plan(graph, format: format, policy: options.policy)
        var contents = OutputContents(plan: plan, safetensorsMetadata: outputMetadata(graph),
                                      config: graph.config.transformersConfig(), auxiliaryFiles: graph.sourceFormat == .safetensors ? auxiliaryFiles(of: graph.sourcePath) : [])
        var warnings: [WriteWarning] = []
        if format == .gguf {
            contents.ggufMetadata = try GGUFMetadataBuilder.metadata(for: graph, plan: plan, options: options, warnings: &warnings)
        } else if let gguf = graph.ggufMetadata, gguf["tokenizer.ggml.model"] != nil {
            if target.kind == .directory {
                do {
                    let (tokenizer, config) = try Tokenizer(ggufMetadata: gguf, path: graph.sourcePath).transformersFiles()
                    contents.generatedFiles = [("tokenizer.json", tokenizer.serialized(.indented) + "\n"),
                                               ("tokenizer_config.json", config.serialized(.indented) + "\n")]
                } catch {
                    warnings.append(.tokenizerNotWritten(reason: error.description))
                }
            } else {
                warnings.append(.tokenizerNotWritten(reason: "a single .safetensors file has no place for one; write a model directory (out/) to get tokenizer.json"))
            }
        }
        var summary = try emit(contents, to: target, options: options, in: transaction, progress: progress)
        summary.warnings.insert(contentsOf: warnings, at: 0)
        if format == .gguf, let experts = graph.config.experts, let layout = graph.config.architecture.expertLayout,
            experts.normalizesTopK != layout.llamaCppNormalizesTopK
        {
            summary.warnings.append(.topKNormalizationDiffers(model: experts.normalizesTopK, llamaCpp: layout.llamaCppNormalizesTopK))
        }
        return summary
    }

    /// Everything one output consists of, whatever produced it: a model
    /// graph, or a checkpoint converted tensor by tensor.
    struct OutputContents {
        var plan: [PlannedTensor]
        var safetensorsMetadata: Metadata<String>
        var ggufMetadata = Metadata<GGUFValue>()
        /// config.json: a file of a directory output, the metadata of a single safetensors file.
        var config: JSONObject?
        /// Files of a directory output copied from the input's folder (its tokenizer files).
        var auxiliaryFiles: [(name: String, path: String)]
        /// Files of a directory output made from the input (a GGUF's tokenizer as tokenizer.json).
        var generatedFiles: [(name: String, text: String)] = []
    }

    /// Stages `target` in `transaction` and writes `contents` there.
    static func emit(
        _ contents: OutputContents, to target: OutputTarget, options: WriteOptions, in transaction: OutputTransaction,
        progress: (@Sendable (PlannedTensor, Int, Int) -> Void)?
    ) throws -> WriteSummary {
        let plan = contents.plan
        try validate(plan, path: target.path)
        let log = ConversionLog()
        var summary = WriteSummary(outputPath: target.path)
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
        let configText = contents.config.map { JSONValue.object($0).serialized(.indented) + "\n" }
        switch (target.kind, target.checkpointFormat) {
        case (.directory, _):
            let layout = SafetensorsWriter.shardLayout(outputs, maxShardSize: options.maxShardSize ?? Int.max)
            let files = layout.fileNames + (configText == nil ? [] : ["config.json"]) + contents.auxiliaryFiles.map(\.name)
                + contents.generatedFiles.map(\.name)
            let directory = try transaction.stage(target, files: files)
            try SafetensorsWriter.write(layout, metadata: contents.safetensorsMetadata, into: directory)
            if let configText {
                try Paths.writeText(configText, to: Paths.join(directory, "config.json"))
                summary.configPath = Paths.join(target.path, "config.json")
            }
            for file in contents.auxiliaryFiles { try Paths.copyFile(from: file.path, to: Paths.join(directory, file.name)) }
            for file in contents.generatedFiles { try Paths.writeText(file.text, to: Paths.join(directory, file.name)) }
            summary.files = files
        case (.file, .safetensors):
            let path = try transaction.stage(target)
            var metadata = contents.safetensorsMetadata
            if let configText { metadata[embeddedConfigKey] = configText }
            try SafetensorsWriter.write(outputs, metadata: metadata, to: path)
            summary.files = [Paths.lastComponent(of: target.path)]
        case (.file, .gguf):
            let path = try transaction.stage(target)
            if contents.ggufMetadata["tokenizer.ggml.model"] == nil {
                summary.warnings.append(.noTokenizer)
            }
            try GGUFWriter.write(metadata: contents.ggufMetadata, tensors: outputs, to: path)
            summary.files = [Paths.lastComponent(of: target.path)]
        }
        summary.overflows = log.entries
        return summary
    }

    /// Writes `graph` to `path` in a transaction of its own, refusing to
    /// touch the graph's inputs or (unless `replacing`) an existing output.
    @discardableResult
    public static func write(_ graph: ModelGraph, to path: String, options: WriteOptions = WriteOptions(), replacing: Bool = false) throws -> WriteSummary {
        let target = try OutputTarget(path, fileExtensions: ["safetensors", "gguf"], allowsDirectory: true)
        let transaction = OutputTransaction(inputs: graph.inputPaths, replacing: replacing)
        let summary = try write(graph, to: target, options: options, in: transaction)
        try transaction.commit()
        return summary
    }

    /// The `__metadata__` key under which a single safetensors file carries
    /// its model's config.json (as JSON text).
    public static let embeddedConfigKey = "config.json"

    /// The source's `__metadata__` without a config it carried (a new one replaces it).
    static func outputMetadata(_ graph: ModelGraph) -> Metadata<String> {
        var metadata = graph.safetensorsMetadata ?? ["format": "pt"]
        metadata[embeddedConfigKey] = nil
        return metadata
    }

    /// The tokenizer and generation files beside (or in) the source model,
    /// which a model directory output carries along.
    static func auxiliaryFiles(of source: String) -> [(name: String, path: String)] {
        let folder = Paths.isDirectory(source) ? source : Paths.directory(of: source)
        var files: [(name: String, path: String)] = []
        for name in Paths.entries(of: folder) {
            let lower = name.lowercased()
            let isTokenizer = lower.hasPrefix("tokenizer") || lower.hasSuffix(".model") || lower == "special_tokens_map.json"
                || lower == "generation_config.json" || lower == "vocab.json" || lower == "merges.txt" || lower == "chat_template.jinja"
            let path = Paths.join(folder, name)
            guard !OutputTransaction.isWeightFile(name), isTokenizer, !name.hasPrefix("."), !Paths.isDirectory(path) else { continue }
            files.append((name, path))
        }
        return files
    }
}

extension String {
    /// The string with its first occurrence of `target` replaced.
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        return String(self[..<range.lowerBound]) + replacement + String(self[range.upperBound...])
    }
}
