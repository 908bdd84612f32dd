import ArgumentParser
import GateSurgeon

/// How a model is written; shared by every command that writes one.
struct OutputOptions: ParsableArguments {
    @Option(name: .customLong("dtype"), help: "Convert float tensors to this type.")
    var dtype: FloatType?

    @Option(name: .customLong("quant"),
            help: ArgumentHelp("Quantize (GGUF output) as llama-quantize does with this preset or type: \(QuantArgument.valueList).", valueName: "preset"),
            transform: QuantArgument.parse)
    var quantization: QuantizationPreset?

    @Flag(help: "With --quant: every weight gets the preset's type, without llama-quantize's per-tensor mix (its --pure).")
    var pure = false

    @Option(help: ArgumentHelp("With --quant: an importance matrix, a .gguf or legacy .dat file from llama-imatrix or gatesurgeon imatrix.", valueName: "file"))
    var imatrix: String?

    @Option(name: .customLong("tensor-type"),
            help: ArgumentHelp("With --quant: tensors whose GGUF name this regex finds get TYPE, e.g. 'attn_v=q8_0' (repeatable; the first match wins).", valueName: "pattern=type"),
            transform: { text in
                do { return try TensorTypeOverride(parsing: text) } catch { throw ValidationError("\(error)") }
            })
    var tensorTypes: [TensorTypeOverride] = []

    @Option(name: [.customLong("embedding-type"), .customLong("token-embedding-type")],
            help: ArgumentHelp("With --quant: the token embedding's type: \(TensorType.valueList).", valueName: "type"),
            transform: TensorType.parse)
    var embeddingType: TensorType?

    @Option(name: [.customLong("output-type"), .customLong("output-tensor-type")],
            help: ArgumentHelp("With --quant: the type of lm_head (output.weight): \(TensorType.valueList).", valueName: "type"),
            transform: TensorType.parse)
    var outputType: TensorType?

    @Flag(help: "With --quant: leave output.weight as it is (llama-quantize's --leave-output-tensor).")
    var leaveOutputTensor = false

    @Flag(help: "With --quant: re-quantize tensors already stored in block types (quality suffers).")
    var allowRequantize = false

    @Option(name: .customLong("keep"), help: ArgumentHelp("Leave tensors matching this shell glob as stored (repeatable; either naming).", valueName: "glob"))
    var keep: [String] = []

    @Option(help: ArgumentHelp("Split a model directory into shards, or a .gguf output into parts (NAME-00001-of-0000N.gguf), of at most this size (5GB, 500MB, 2GiB).", valueName: "size"),
            transform: ByteSize.parse)
    var maxShardSize: Int?

    @Option(help: ArgumentHelp("GGUF output: split into parts of at most this much tensor data, as llama-gguf-split --split-max-size does (a whole number and M or G: 500M, 4G).", valueName: "size"),
            transform: ByteSize.parseSplitMaxSize)
    var splitMaxSize: Int?

    @Option(help: ArgumentHelp("GGUF output: split into parts of at most this many tensors, as llama-gguf-split --split-max-tensors does.", valueName: "count"))
    var splitMaxTensors: Int?

    @Flag(help: "Print the plan, the files that would be written with their sizes, the total bytes and bits per weight; write nothing.")
    var dryRun = false

    @Option(help: ArgumentHelp("GGUF output: copy the tokenizer.* metadata from this GGUF file (e.g. an official GGUF of the same model).", valueName: "file.gguf"))
    var tokenizerFrom: String?

    @Option(help: ArgumentHelp("GGUF output: the llama.cpp pre-tokenizer (tokenizer.ggml.pre) for a byte-level BPE tokenizer whose hash llama.cpp's converter does not know (llama-bpe, qwen2, gpt-2, ...).", valueName: "name"))
    var tokenizerPre: String?

    @Option(name: .customLong("gguf-arch"),
            help: ArgumentHelp("GGUF output: the llama.cpp architecture. auto (default): step35 for a headwise-gated model it computes exactly, so the file runs in llama.cpp; the family's own otherwise. step35: that, or an error saying why not. family: the family's own (llama, qwen2, qwen3, ...), where a gate runs in gatesurgeon only.", valueName: "arch"))
    var ggufArchitecture: GGUFArchitectureChoice?

    @Flag(help: "Replace an existing output file, or write into an existing directory, replacing only the files of the same names.")
    var force = false

    func validate() throws {
        if quantization == nil {
            for (flag, given) in [("--embedding-type", embeddingType != nil), ("--output-type", outputType != nil), ("--pure", pure),
                                  ("--imatrix", imatrix != nil), ("--tensor-type", !tensorTypes.isEmpty),
                                  ("--leave-output-tensor", leaveOutputTensor), ("--allow-requantize", allowRequantize)] where given {
                throw ValidationError("\(flag) applies to quantizing; give --quant too")
            }
        }
        if let dtype, let quantization {
            throw ValidationError("--dtype \(dtype.rawValue) and --quant \(quantization.name) together: --quant decides every tensor's type (block types for weights, F32 for norms and biases); use --keep GLOB to leave tensors as stored")
        }
        if let tokenizerPre, !TokenizerGGUFMetadata.llamaCppPreTokenizerNames.contains(tokenizerPre) {
            throw ValidationError("--tokenizer-pre '\(tokenizerPre)' is not a pre-tokenizer llama.cpp loads; one of: \(TokenizerGGUFMetadata.llamaCppPreTokenizerNames.joined(separator: ", "))")
        }
        if tokenizerPre != nil && tokenizerFrom != nil {
            throw ValidationError("--tokenizer-pre names the pre-tokenizer of the model's own tokenizer; --tokenizer-from copies another file's, pre-tokenizer included: give one of them")
        }
        if leaveOutputTensor && outputType != nil {
            throw ValidationError("--leave-output-tensor and --output-type contradict each other")
        }
        if let splitMaxTensors, splitMaxTensors < 1 {
            throw ValidationError("--split-max-tensors must be at least 1, not \(splitMaxTensors)")
        }
        let limits = [("--max-shard-size", maxShardSize != nil), ("--split-max-size", splitMaxSize != nil), ("--split-max-tensors", splitMaxTensors != nil)]
            .filter(\.1).map(\.0)
        if limits.count > 1 {
            throw ValidationError("\(limits.joined(separator: " and ")) each set where the output is split; give one")
        }
    }

    /// The checks that depend on where the output goes.
    func validate(for target: OutputTarget) throws {
        if let quantization, target.checkpointFormat != .gguf {
            throw ValidationError("--quant \(quantization.name) writes GGUF block types; give an output path ending in .gguf")
        }
        for (flag, given) in [("--tokenizer-from", tokenizerFrom != nil), ("--tokenizer-pre", tokenizerPre != nil), ("--gguf-arch", ggufArchitecture != nil)]
        where given && target.checkpointFormat != .gguf {
            throw ValidationError("\(flag) applies to GGUF output; give an output path ending in .gguf")
        }
        if maxShardSize != nil && target.kind != .directory && target.checkpointFormat != .gguf {
            throw ValidationError("--max-shard-size splits a model directory into shards or a GGUF file into parts; give a directory output such as out/, or a .gguf file")
        }
        for (flag, given) in [("--split-max-size", splitMaxSize != nil), ("--split-max-tensors", splitMaxTensors != nil)] where given && target.checkpointFormat != .gguf {
            throw ValidationError("\(flag) splits a GGUF file into parts; give an output path ending in .gguf (a safetensors directory takes --max-shard-size)")
        }
    }

    /// Checks the output path before the work starts. A split GGUF's parts
    /// are named once the plan says how many there are; each is checked when
    /// it is staged, before any is written.
    func check(_ target: OutputTarget, in transaction: OutputTransaction) throws {
        let splitsGGUF = target.checkpointFormat == .gguf && (maxShardSize != nil || splitMaxSize != nil || splitMaxTensors != nil)
        if !splitsGGUF { try transaction.check(target) }
    }

    /// The conversion policy; reads the importance matrix.
    func policy() throws -> ConversionPolicy {
        var request: QuantizationRequest?
        if let quantization {
            let options = QuantizationOptions(
                preset: quantization, pure: pure, allowRequantize: allowRequantize, quantizeOutput: !leaveOutputTensor,
                outputType: outputType?.dtype, tokenEmbeddingType: embeddingType?.dtype, overrides: tensorTypes)
            let matrix = try imatrix.map { try ImportanceMatrix(contentsOf: $0) }
            request = QuantizationRequest(options: options, importance: matrix, importancePath: imatrix)
        }
        return ConversionPolicy(dtype: dtype?.dtype, quantization: request, keep: keep)
    }

    func writeOptions(_ policy: ConversionPolicy) -> WriteOptions {
        WriteOptions(policy: policy, maxShardSize: maxShardSize ?? splitMaxSize, maxShardTensors: splitMaxTensors,
                     tokenizerSource: tokenizerFrom, tokenizerPre: tokenizerPre, ggufArchitecture: ggufChoice)
    }

    /// The architecture choice for GGUF output (`--gguf-arch`, default auto).
    var ggufChoice: GGUFArchitectureChoice { ggufArchitecture ?? .automatic }

    /// `graph` as the output carries it: for GGUF, with the architecture `--gguf-arch` picks.
    func prepared(_ graph: ModelGraph, for target: OutputTarget) throws -> ModelGraph {
        target.checkpointFormat == .gguf ? try graph.preparedForGGUF(ggufChoice) : graph
    }

    /// Files read besides the model, which outputs may not overlap.
    var inputs: [String] { [tokenizerFrom, imatrix].compactMap { $0 } }

    /// One warning per tensor whose rows are not whole blocks of the type
    /// --output-type or --embedding-type named, and that got the type a
    /// preset falls back to instead (llama-quantize stops on such a tensor).
    func explicitTypeFallbacks(in plan: [PlannedTensor]) -> [String] {
        func named(_ name: String) -> PlannedTensor? { plan.first { $0.ggufName == name } }
        // The tensors each option types: --output-type also the token embedding
        // when it is tied (no output.weight) and --embedding-type is not given.
        var targets: [(flag: String, type: DType, item: PlannedTensor)] = []
        if let embeddingType, let item = named("token_embd.weight") { targets.append(("--embedding-type", embeddingType.dtype, item)) }
        if let outputType {
            if let item = named("output.weight") {
                targets.append(("--output-type", outputType.dtype, item))
            } else if embeddingType == nil, let item = named("token_embd.weight") {
                targets.append(("--output-type", outputType.dtype, item))
            }
        }
        return targets.compactMap { flag, type, item in
            let rowLength = item.tensor.shape.last ?? 1
            guard item.dtype != type, let fallback = QuantizationFallback(for: type, rowLength: rowLength), fallback.type == item.dtype else { return nil }
            return "\(flag) \(type.name.lowercased()): \(item.outputName) has rows of \(rowLength), not whole \(type.name) blocks of \(type.blockSize); it is written as \(item.dtype.name), the type llama.cpp falls back to (llama-quantize stops here)"
        }
    }
}

/// How a command reports: a JSON document for machines, or text; progress or none.
struct ReportOptions: ParsableArguments {
    @Flag(help: "Print one JSON document on standard output instead of text (progress and warnings stay on standard error).")
    var json = false

    @Flag(help: "Print no progress and no plan of what a write will do; results (tables, summaries), warnings and errors still print.")
    var quiet = false

    /// Whether the plan of a write (the lines before the heavy work) is printed.
    var showsPlan: Bool { !json && !quiet }
}

/// Limits on the logit comparison of `verify` and of `--verify`.
struct ThresholdOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Fail when max |a - b| of the logits exceeds this.", valueName: "t"))
    var maxAbs: Float?

    @Option(parsing: .unconditional, help: ArgumentHelp("Fail when the NMSE of the logits exceeds this.", valueName: "t"))
    var maxNmse: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Fail when the fraction of tokens whose top-1 agrees is below this (0...1).", valueName: "f"))
    var minTop1: Double?

    @Option(parsing: .unconditional, help: ArgumentHelp("Fail when the mean KL divergence exceeds this.", valueName: "t"))
    var maxKld: Double?

    func validate() throws {
        if let minTop1, !(0...1).contains(minTop1) {
            throw ValidationError("--min-top1 is a fraction between 0 and 1, not \(minTop1)")
        }
        for (flag, value) in [("--max-abs", maxAbs.map(Double.init)), ("--max-nmse", maxNmse), ("--max-kld", maxKld)] {
            if let value, !(value >= 0 && value.isFinite) {
                throw ValidationError("\(flag) must be a non-negative number, not \(value)")
            }
        }
    }

    var isEmpty: Bool { maxAbs == nil && maxNmse == nil && minTop1 == nil && maxKld == nil }

    /// `defaults` with each limit given on the command line replacing its default.
    func overriding(_ defaults: VerificationThresholds?) -> VerificationThresholds? {
        if isEmpty { return defaults }
        var result = defaults ?? VerificationThresholds()
        if let maxAbs { result.maxAbsDifference = maxAbs }
        if let maxNmse { result.maxNMSE = maxNmse }
        if let minTop1 { result.minTop1Agreement = minTop1 }
        if let maxKld { result.maxKLDivergence = maxKld }
        return result
    }

    /// The option that sets `metric`.
    static func flag(for metric: ThresholdFailure.Metric) -> String {
        switch metric {
        case .maxAbsDifference: "--max-abs"
        case .nmse: "--max-nmse"
        case .top1Agreement: "--min-top1"
        case .klDivergence: "--max-kld"
        }
    }
}
