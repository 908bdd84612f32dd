import JSON

/// One tensor of the model graph, named and shaped the transformers way
/// (PyTorch `[out_features, in_features]`, Llama q/k rows in rotate-half
/// order) whatever format it came from.
public struct GraphTensor: Sendable {
    public var name: String
    public var shape: [Int]
    /// The type it is stored as, and is written as unless told otherwise.
    public var dtype: DType
    public var expression: TensorExpression

    public init(name: String, shape: [Int], dtype: DType, expression: TensorExpression) {
        self.name = name
        self.shape = shape
        self.dtype = dtype
        self.expression = expression
    }

    init(_ stored: StoredTensor, name: String? = nil) {
        self.init(name: name ?? stored.name, shape: stored.shape, dtype: stored.dtype, expression: .stored(stored))
    }

    public var elementCount: Int { shape.reduce(1, *) }
    /// Rows of a 2-D weight (outermost dimension).
    public var rows: Int { shape.first ?? 1 }

    /// All values in F32 (dequantized, transformations applied).
    public func values() throws -> [Float] { try expression.allValues() }
}

/// A SwiGLU MLP, `down(silu(gate(x)) * up(x))`: one expert, or a shared
/// expert.
public struct MLPTensors: Sendable {
    public var gate: GraphTensor
    public var up: GraphTensor
    public var down: GraphTensor

    public init(gate: GraphTensor, up: GraphTensor, down: GraphTensor) {
        self.gate = gate
        self.up = up
        self.down = down
    }

    public var tensors: [GraphTensor] { [gate, up, down] }
}

/// A mixture of experts: a router `[experts, hidden]` picks experts per
/// token; a shared expert, when present, sees every token, scaled by
/// `sigmoid(x · sharedGate)`.
public struct ExpertTensors: Sendable {
    public var router: GraphTensor
    public var experts: [MLPTensors]
    public var shared: MLPTensors?
    public var sharedGate: GraphTensor?

    public var tensors: [GraphTensor] {
        [router] + experts.flatMap(\.tensors) + (shared?.tensors ?? []) + (sharedGate.map { [$0] } ?? [])
    }
}

/// One decoder layer: its tensors by the part they play (the family's
/// `LayerSpec` says which parts it has), and its experts.
public struct DecoderLayer: Sendable {
    public var index: Int
    /// Every tensor but the experts', by role.
    public var byRole: [LayerRole: GraphTensor]
    /// The mixture of experts, for families that have one.
    public var experts: ExpertTensors?

    public init(index: Int, byRole: [LayerRole: GraphTensor], experts: ExpertTensors? = nil) {
        self.index = index
        self.byRole = byRole
        self.experts = experts
    }

    /// The tensor playing `role`, if the layer has one.
    public subscript(role: LayerRole) -> GraphTensor? {
        get { byRole[role] }
        set { byRole[role] = newValue }
    }

    /// The separate-layout gate, elementwise or headwise.
    public var separateGate: GraphTensor? { byRole[.gate] ?? byRole[.headwiseGate] }

    /// The tensor that holds the queries: q_proj, or the fused qkv_proj.
    public var queryProjection: GraphTensor? { byRole[.query] ?? byRole[.queryKeyValue] }

    /// The layer's tensors in role order, experts last.
    public var tensors: [GraphTensor] {
        LayerRole.allCases.compactMap { byRole[$0] } + (experts?.tensors ?? [])
    }
}

/// A decoder-only model: hyperparameters and every tensor, independent of
/// the file format it was read from. Surgery edits it; writers serialize it.
public struct ModelGraph: Sendable {
    public var config: ModelConfig
    public var sourcePath: String
    public var sourceFormat: CheckpointFormat
    public var embedding: GraphTensor
    public var finalNorm: GraphTensor
    /// lm_head; nil when tied to the embedding.
    public var output: GraphTensor?
    public var layers: [DecoderLayer]
    /// Tensors the graph does not interpret, passed through untouched.
    public var passthrough: [GraphTensor]
    /// The source's `__metadata__` (safetensors) or metadata (GGUF).
    public var safetensorsMetadata: Metadata<String>?
    public var ggufMetadata: Metadata<GGUFValue>?
    /// Tensor names (transformers convention) in the order the source stores them.
    public var sourceOrder: [String]
    /// Where the hyperparameters came from.
    public var configOrigin: ConfigOrigin

    /// Every tensor, in transformers' order (embedding, layers, norm, lm_head, others).
    public var allTensors: [GraphTensor] {
        [embedding] + layers.flatMap(\.tensors) + [finalNorm] + (output.map { [$0] } ?? []) + passthrough
    }

    public var parameterCount: Int { allTensors.reduce(0) { $0 + $1.elementCount } }

    /// True when RoPE scaling lives only in llama.cpp's `rope_freqs.weight`
    /// and no config.json rope_scaling reproduces it.
    public var ropeScalingNeedsTensor: Bool {
        passthrough.contains { $0.name == "rope_freqs.weight" } && config.rope.scaling == nil
    }
}

extension ModelGraph {
    /// Builds the graph of a checkpoint. A safetensors model's
    /// hyperparameters come from `configPath` when given, else from the
    /// config its location implies (`ConfigOrigin`).
    public init(checkpoint: Checkpoint, configPath: String? = nil) throws {
        switch checkpoint {
        case .safetensors(let safetensors):
            let (object, origin) = try ModelGraph.findConfig(for: checkpoint, explicitPath: configPath)
            let config = try ModelConfig(transformersConfig: object, path: origin.description)
            var byName: [String: StoredTensor] = [:]
            for tensor in checkpoint.tensors { byName[tensor.name] = tensor }
            do {
                try self.init(config: config, tensors: byName.mapValues { GraphTensor($0) }, order: checkpoint.tensors.map(\.name), path: checkpoint.path)
            } catch let error as ModelError {
                switch error {
                case .missingTensor, .wrongShape:
                    throw ModelError.configMismatch(path: checkpoint.path, config: origin.description, problem: error.problem)
                default:
                    throw error
                }
            }
            configOrigin = origin
            sourceFormat = .safetensors
            safetensorsMetadata = safetensors.files.first?.metadata
        case .gguf(let gguf):
            let config = try ModelConfig(gguf: gguf)
            var byName: [String: GraphTensor] = [:]
            var order: [String] = []
            let architecture = config.architecture
            for tensor in gguf.tensors {
                if let (layer, part) = architecture.stackedExpertComponents(of: tensor.name), let experts = config.experts {
                    // llama.cpp stacks the experts: slab e of [E, rows, columns] is expert e.
                    guard tensor.shape.count == 3, tensor.shape[0] == experts.count else {
                        throw ModelError.wrongShape(path: checkpoint.path, tensor: tensor.name, expected: [experts.count, -1, -1], found: tensor.shape)
                    }
                    let rows = tensor.shape[1]
                    for expert in 0..<experts.count {
                        let name = architecture.expertTensorName(layer: layer, expert: expert, part: part)!
                        let slice = TensorExpression.rows([.init(.stored(tensor), start: expert * rows, count: rows)])
                        byName[name] = GraphTensor(name: name, shape: Array(tensor.shape.dropFirst()), dtype: tensor.dtype, expression: slice)
                        order.append(name)
                    }
                    continue
                }
                let headwise = tensor.name.hasSuffix("attn_gate.weight") && tensor.shape.first == config.headCount
                let name = architecture.transformersName(forGGUF: tensor.name, headwiseGate: headwise) ?? tensor.name
                var node = GraphTensor(tensor, name: name)
                let transforms = name == "model.norm.weight" ? config.ggufFinalNormTransforms
                    : architecture.layerRole(of: name).map { config.ggufTransforms(for: $0.role) } ?? []
                for transform in transforms {
                    if case .ropeRowPermutation(let heads) = transform {
                        // Checked against the (validated) config before the permutation sizes an allocation.
                        let expected = [heads * config.headDim, config.hiddenSize]
                        guard tensor.shape == expected, config.headDim % 2 == 0 else {
                            throw ModelError.wrongShape(path: checkpoint.path, tensor: tensor.name, expected: expected, found: tensor.shape)
                        }
                    }
                    node.expression = transform.decode(node.expression)
                }
                byName[name] = node
                order.append(name)
            }
            try self.init(config: config, tensors: byName, order: order, path: checkpoint.path)
            configOrigin = .gguf(checkpoint.path)
            sourceFormat = .gguf
            ggufMetadata = gguf.metadata
            if self.config.architecture.isStep35 { try Step35.finishReading(&self) }
            if let long = try passthrough.first(where: { $0.name == "rope_factors_long.weight" })?.values(),
                let short = try passthrough.first(where: { $0.name == "rope_factors_short.weight" })?.values()
            {
                // LongRoPE as llama.cpp stores it: the factor sets as tensors, the cos/sin factor as a key.
                let file = HyperparameterReader(gguf: gguf.metadata, path: gguf.path, architecture: config.architecture.ggufName)
                let longRoPE = RoPE.LongRoPE(
                    shortFactors: short.map { Double($0) }, longFactors: long.map { Double($0) },
                    originalContext: self.config.originalContextLength,
                    attentionFactor: try file.optionalDouble(GGUFKey.ropeScalingAttentionFactor))
                self.config.rope.scaling = .longRoPE(longRoPE)
                try self.config.validate(path: gguf.path)
                self.config.json = self.config.transformersConfig()
            }
            if let factors = try passthrough.first(where: { $0.name == "rope_freqs.weight" })?.values(),
                let scaling = self.config.rope.llama3Scaling(reproducing: factors, dimensions: self.config.headDim, maxContext: self.config.maxPositionEmbeddings)
            {
                self.config.rope.scaling = scaling
                self.config.json = self.config.transformersConfig()
            }
        }
    }

    /// A graph built in memory from tensors named the transformers way
    /// (`model.layers.0.self_attn.q_proj.weight`), checked against `config`
    /// as a checkpoint's would be. Tensors the config does not use are kept
    /// as passthrough.
    public init(config: ModelConfig, tensors: [GraphTensor], name: String = "(in memory)") throws {
        try config.validate(path: name)
        var byName: [String: GraphTensor] = [:]
        for tensor in tensors {
            guard byName.updateValue(tensor, forKey: tensor.name) == nil else {
                throw ModelError.unsupportedModel(path: name, problem: "tensor '\(tensor.name)' is given twice")
            }
        }
        try self.init(config: config, tensors: byName, order: tensors.map(\.name), path: name)
    }

    /// The files this graph reads: its checkpoint and its config.
    public var inputPaths: [String] {
        [sourcePath] + (configOrigin.path.map { [$0] } ?? [])
    }

    /// The config.json of a safetensors checkpoint. A directory has its
    /// own; a single file uses, in order: `explicitPath`; the config it
    /// carries in its metadata (what gatesurgeon writes); `<stem>.config.json`
    /// beside it; `config.json` beside it (which the caller then checks
    /// against the file's tensors, so a folder's config of another model is
    /// reported, not silently used).
    static func findConfig(for checkpoint: Checkpoint, explicitPath: String?) throws -> (JSONObject, ConfigOrigin) {
        func load(_ path: String) throws -> JSONObject {
            let json: JSONValue
            do {
                json = try JSONValue.parse(try Paths.readFile(path))
            } catch let error as JSONError {
                throw ModelError.invalidConfig(path: path, key: "(document)", problem: "not valid JSON: \(error)")
            }
            guard case .object(let object) = json else {
                throw ModelError.invalidConfig(path: path, key: "(document)", problem: "must be a JSON object")
            }
            return object
        }
        if let explicitPath { return (try load(explicitPath), .given(explicitPath)) }
        let path = checkpoint.path
        if checkpoint.isMultiFile {
            let candidate = Paths.join(path, "config.json")
            guard Paths.exists(candidate) else { throw ModelError.noConfig(path: path, looked: [candidate]) }
            return (try load(candidate), .directory(candidate))
        }
        if let text = checkpoint.safetensors?.files.first?.metadata?.first(where: { $0.key == ModelWriter.embeddedConfigKey })?.value {
            let json: JSONValue
            do {
                json = try JSONValue.parse(Array(text.utf8))
            } catch {
                throw ModelError.invalidConfig(path: path, key: "__metadata__.\(ModelWriter.embeddedConfigKey)", problem: "not valid JSON: \(error)")
            }
            guard case .object(let object) = json else {
                throw ModelError.invalidConfig(path: path, key: "__metadata__.\(ModelWriter.embeddedConfigKey)", problem: "must be a JSON object")
            }
            return (object, .embedded(path))
        }
        let folder = Paths.directory(of: path)
        var stem = Paths.lastComponent(of: path)
        if let dot = stem.lastIndex(of: "."), dot != stem.startIndex { stem = String(stem[..<dot]) }
        let named = Paths.join(folder, stem + ".config.json")
        if Paths.exists(named) { return (try load(named), .named(named)) }
        let beside = Paths.join(folder, "config.json")
        if Paths.exists(beside) { return (try load(beside), .beside(beside)) }
        throw ModelError.noConfig(path: path, looked: [named, beside])
    }

    private init(config: ModelConfig, tensors: [String: GraphTensor], order: [String], path: String) throws {
        var remaining = tensors
        var config = config
        func take(_ name: String, shape: [Int]?) throws -> GraphTensor {
            guard let tensor = remaining.removeValue(forKey: name) else { throw ModelError.missingTensor(path: path, tensor: name) }
            if let shape, tensor.shape != shape {
                throw ModelError.wrongShape(path: path, tensor: name, expected: shape, found: tensor.shape)
            }
            return tensor
        }
        func takeOptional(_ name: String, shape: [Int]?) throws -> GraphTensor? {
            remaining[name] == nil ? nil : try take(name, shape: shape)
        }
        // A [1, n] weight, which llama-quantize stores as [n] (ggml counts no outer 1s).
        func takeRow(_ name: String, length: Int) throws -> GraphTensor {
            var tensor = try take(name, shape: nil)
            guard tensor.shape == [1, length] || tensor.shape == [length] else {
                throw ModelError.wrongShape(path: path, tensor: name, expected: [1, length], found: tensor.shape)
            }
            tensor.shape = [1, length]
            return tensor
        }
        let (D, V) = (config.hiddenSize, config.vocabSize)
        let architecture = config.architecture

        embedding = try take("model.embed_tokens.weight", shape: [V, D])
        finalNorm = try take("model.norm.weight", shape: [D])
        output = try takeOptional("lm_head.weight", shape: [V, D])
        if output == nil && !config.tieWordEmbeddings {
            // Some checkpoints omit lm_head yet leave tie_word_embeddings unset.
            config.tieWordEmbeddings = true
        }

        // A separate gate tensor, if any layer has one, fixes the layout.
        let separateNames = tensors.keys.compactMap { name -> (Int, LayerRole)? in
            guard let (layer, role) = architecture.layerRole(of: name), role == .gate || role == .headwiseGate else { return nil }
            return (layer, role)
        }
        if !separateNames.isEmpty {
            if let gate = config.gate, gate.layout != .separate {
                throw ModelError.unsupportedModel(path: path, problem: "config declares a \(gate.layout.rawValue) gate but tensors carry a separate gate")
            }
            let headwise = separateNames.contains { $0.1 == .headwiseGate }
            let layers = Set(separateNames.map(\.0))
            config.gate = GateSpec(layout: .separate, granularity: headwise ? .headwise : .elementwise,
                                   layers: layers.count == config.layerCount ? nil : layers)
        }

        var layers: [DecoderLayer] = []
        for index in 0..<config.layerCount {
            var byRole: [LayerRole: GraphTensor] = [:]
            let slots = config.layerSlots(index)
            // transformers' attention_bias / qkv_bias gives all three projections a bias or none;
            // llama.cpp loads q, k and v biases together too.
            let biases = [LayerRole.queryBias, .keyBias, .valueBias].filter { remaining[architecture.transformersName($0, layer: index)] != nil }
            guard biases.isEmpty || biases.count == 3 else {
                let names = biases.map { architecture.layer.transformersName($0).split(separator: ".").dropLast().last.map(String.init) ?? "" }
                throw ModelError.unsupportedModel(path: path, problem: "layer \(index) has a bias for \(names.joined(separator: " and ")) only; q_proj, k_proj and v_proj have biases together or not at all")
            }
            for slot in slots {
                let name = architecture.transformersName(slot.role, layer: index)
                byRole[slot.role] = slot.required ? try take(name, shape: slot.shape) : try takeOptional(name, shape: slot.shape)
            }
            var experts: ExpertTensors?
            if let layout = architecture.expertLayout, let settings = config.experts {
                let p = "\(Architecture.transformersLayerPrefix)\(index)."
                func mlp(_ prefix: String, size: Int, parts: (gate: String, up: String, down: String)) throws -> MLPTensors {
                    MLPTensors(gate: try take(prefix + parts.gate, shape: [size, D]), up: try take(prefix + parts.up, shape: [size, D]),
                               down: try take(prefix + parts.down, shape: [D, size]))
                }
                let shared = layout.hasSharedExpert
                    ? try mlp(p + "mlp.shared_expert.", size: settings.sharedIntermediateSize ?? 0, parts: ("gate_proj.weight", "up_proj.weight", "down_proj.weight"))
                    : nil
                experts = ExpertTensors(
                    router: try take(p + layout.router, shape: [settings.count, D]),
                    experts: try (0..<settings.count).map { expert in
                        try mlp(p + layout.expertPrefix + "\(expert).", size: settings.intermediateSize, parts: layout.expertParts)
                    },
                    shared: shared,
                    sharedGate: layout.hasSharedExpert ? try takeRow(p + "mlp.shared_expert_gate.weight", length: D) : nil)
            }
            layers.append(DecoderLayer(index: index, byRole: byRole, experts: experts))
        }
        self.layers = layers
        self.config = config
        passthrough = order.compactMap { remaining[$0] }
        sourceOrder = order
        sourcePath = path
        sourceFormat = .safetensors
        safetensorsMetadata = nil
        ggufMetadata = nil
        configOrigin = .given(path)
    }
}

/// Where a model's hyperparameters came from, for messages and for the
/// list of a command's inputs.
public enum ConfigOrigin: Sendable, Equatable, CustomStringConvertible {
    /// A config.json the caller named.
    case given(String)
    /// The config.json of a model directory.
    case directory(String)
    /// The config a single safetensors file carries in its metadata.
    case embedded(String)
    /// `<stem>.config.json` beside a single file.
    case named(String)
    /// `config.json` beside a single file.
    case beside(String)
    /// The metadata of a GGUF file.
    case gguf(String)

    /// The config file, when it is a file of its own.
    public var path: String? {
        switch self {
        case .given(let path), .directory(let path), .named(let path), .beside(let path): path
        case .embedded, .gguf: nil
        }
    }

    public var description: String {
        switch self {
        case .given(let path), .directory(let path), .named(let path): path
        case .beside(let path): "\(path) (the config.json beside the file)"
        case .embedded(let path): "\(path) (its own metadata)"
        case .gguf(let path): path
        }
    }
}
