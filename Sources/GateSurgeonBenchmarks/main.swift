// gatesurgeon-bench: times gatesurgeon against the peer tools on synthetic
// Llama-shaped checkpoints and prints wall time, peak memory and ratios.
//
//   swift build -c release
//   .build/release/gatesurgeon-bench --threads 2 \
//       --llama-cpp fixtures/.work/llama_cpp_python-0.3.36/vendor/llama.cpp \
//       --quantize fixtures/.work/build-bench/bin/llama-quantize \
//       --llama-bench fixtures/.work/build-bench/bin/llama-bench \
//       --forward-model fixtures/.work/real/SmolLM2-135M-Instruct.Q4_1.gguf \
//       --python /path/to/venv/bin/python [--sections casts,quantize,forward] [--kernels avx2]
//
// Each command runs as a child process; peak memory is the child's maximum
// resident set size from wait4(2). `--help` lists the sections. `--kernels`
// runs gatesurgeon's AVX2 (or portable) kernels on a CPU that has faster
// ones, for comparison with peers built for an AVX2-only CPU; it sets
// GATESURGEON_KERNELS for this process and every child.

import ArgumentParser
import GateSurgeon
import JSON
import Platform

extension VectorKernels.Level: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

/// The parts of the benchmark, run in this order.
enum Section: String, CaseIterable, ExpressibleByArgument {
    /// F32 -> BF16 / F16 of a --cast-layers F32 model against `cp` of the same
    /// file (the limit: reading and writing the bytes), medians of
    /// alternating runs with the page cache warm.
    case casts
    /// safetensors -> GGUF (F16, Q8_0) against convert_hf_to_gguf.py.
    case convert
    /// GGUF -> the --quant-types with --pure, and the Q4_K_M preset, against llama-quantize.
    case quantize
    /// add-gate and verify of the synthetic model (no peer).
    case gate
    /// The forward pass against llama-bench on --forward-model, whole
    /// process and in this process.
    case forward
    /// The quantizers in this process on one thread, CPU time per type at
    /// every kernel level this CPU runs (or --kernels alone): the kernels
    /// without I/O, comparable on a busy machine.
    case kernels
    /// The F16 GGUF of the model in four parts (as llama-gguf-split writes
    /// them), read and quantized to Q8_0 from its first part against the
    /// same model in one file: time and peak memory must match.
    case split
    /// A model of at least 8 GB, whose peak memory must equal the small one's.
    case big
    /// `verify` of a 7B-shaped BF16 model against itself on 64 tokens.
    case sevenB = "7b"

    static let defaults: [Section] = [.casts, .convert, .quantize, .gate, .forward, .split]
}

/// Parses a comma-separated list with `parse`, naming the first bad item.
func commaSeparated<T>(_ text: String, _ what: String, _ parse: (String) -> T?) throws -> [T] {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
    return try items.map { item in
        guard let value = parse(item) else { throw ValidationError("'\(item)' is not \(what)") }
        return value
    }
}

struct Benchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gatesurgeon-bench",
        abstract: "Time gatesurgeon against cp, llama.cpp's converter, llama-quantize and llama-bench.",
        discussion: """
            Sections (--sections, comma-separated; default casts,convert,quantize,gate,forward,split):
              casts     F32 -> BF16/F16 safetensors against cp of the input (medians of 3)
              convert   safetensors -> GGUF F16 and Q8_0 against convert_hf_to_gguf.py
              quantize  GGUF F32/F16 -> --quant-types (--pure) and the Q4_K_M preset against llama-quantize
              gate      add-gate and verify of the synthetic model
              forward   the forward pass against llama-bench on --forward-model
              kernels   the quantizers in process, one thread, CPU time per type and kernel level
              split     GGUF F16 -> Q8_0 from the first of four parts against the same model in one file
              big       convert and forward of an 8 GB model (peak memory must not grow)
              7b        verify of a 7B-shaped model against itself
            Peers that are not given are skipped. The synthetic models are made in --work once.
            The first lines name the CPU, its features and the kernel level gatesurgeon runs at.
            """
    )

    @Option(help: "Threads for gatesurgeon and the peers (default: every core).")
    var threads: Int = Parallel.coreCount

    @Option(help: "Sections to run, comma-separated.", transform: { try commaSeparated($0, "a section", Section.init(rawValue:)) })
    var sections: [Section] = Section.defaults

    @Option(help: "Run gatesurgeon's kernels at this level (at most what the CPU supports); sets GATESURGEON_KERNELS.")
    var kernels: VectorKernels.Level?

    @Option(name: .customLong("llama-cpp"), help: "llama.cpp source tree (for convert_hf_to_gguf.py).")
    var llamaCpp: String?

    @Option(help: "llama-quantize binary.")
    var quantize: String?

    @Option(name: .customLong("llama-bench"), help: "llama-bench binary.")
    var llamaBench: String?

    @Option(name: .customLong("forward-model"), help: "GGUF model for the forward section.")
    var forwardModel: String?

    @Option(help: "Python with the converter's requirements.")
    var python = "python3"

    @Option(help: "Folder for the synthetic models and outputs.")
    var work = "/tmp/gatesurgeon-bench"

    @Option(help: "Layers of the synthetic BF16 model.")
    var layers = 8

    @Option(help: "Hidden size of the synthetic models (a multiple of 512: heads of 128, 4 per KV head).")
    var hidden = 2048

    @Option(help: "FFN size of the synthetic models.")
    var intermediate = 5632

    @Option(help: "Vocabulary of the synthetic models.")
    var vocab = 32000

    @Option(name: .customLong("cast-layers"), help: "Layers of the F32 model of the casts (and the F32 quantize input).")
    var castLayers = 12

    @Option(name: .customLong("quant-types"), help: "Types of the quantize section's --pure rows (default: q8_0,q4_0,q4_k from F32; q8_0,q4_k,q6_k from F16).",
            transform: { try commaSeparated($0, "a quantization type", DType.init(userSpelling:)) })
    var quantTypes: [DType]?

    @Option(name: .customLong("kernel-types"), help: "Types of the kernels section.",
            transform: { try commaSeparated($0, "a quantization type", DType.init(userSpelling:)) })
    var kernelTypes: [DType] = [.q8_0, .q4_0, .q4_1, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    @Option(name: .customLong("kernel-values"), help: "F32 values each kernels-section run quantizes.")
    var kernelValues = 1 << 22

    @Option(help: "Only time encoding 1 MB of the tokenizer corpus with this tokenizer (a model directory or a .gguf).")
    var tokenize: String?

    func validate() throws {
        guard threads > 0 else { throw ValidationError("--threads must be at least 1") }
        guard layers > 0, castLayers > 0, intermediate > 0, vocab > 0 else {
            throw ValidationError("--layers, --cast-layers, --intermediate and --vocab must be positive")
        }
        guard hidden > 0, hidden % 512 == 0 else { throw ValidationError("--hidden must be a positive multiple of 512") }
        guard kernelValues >= 256, kernelValues % 256 == 0 else {
            throw ValidationError("--kernel-values must be a positive multiple of 256")
        }
        for type in (quantTypes ?? []) + kernelTypes where !type.isQuantized {
            throw ValidationError("\(type.name) is not a quantization type")
        }
        if let kernels, kernels > VectorKernels.supported {
            throw ValidationError("--kernels \(kernels): this CPU runs at most \(VectorKernels.supported)")
        }
        if kernels == nil, case .invalid(let value) = VectorKernels.environmentSetting {
            throw ValidationError("GATESURGEON_KERNELS=\(value) names no kernel level (portable, avx2, avx512)")
        }
    }

    func run() throws {
        if let kernels {
            // Before anything reads it: this process and its children run at `kernels`.
            setenv("GATESURGEON_KERNELS", kernels.description, 1)
        }
        if let tokenize {
            try timeTokenizer(tokenize)
            return
        }
        try BenchmarkRun(self).run()
    }
}

/// A file of /proc, read to its end (its size reads as 0, so it cannot be mapped).
func readProcFile(_ path: String) -> String {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { break }
        bytes += chunk[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Wall seconds and peak resident memory of one child process.
struct Measurement {
    var seconds: Double
    var peakBytes: Int
}

func measure(_ arguments: [String], output: String? = nil) -> Measurement? {
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, output ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    defer { posix_spawn_file_actions_destroy(&actions) }
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    guard posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else {
        print("  could not start \(arguments[0])")
        return nil
    }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    guard status == 0 else {
        print("  failed (status \(status)): \(arguments.joined(separator: " "))")
        return nil
    }
    return Measurement(seconds: seconds(from: start, to: end), peakBytes: Int(usage.ru_maxrss) * 1024)
}

func seconds(from start: timespec, to end: timespec) -> Double {
    Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
}

func format(_ m: Measurement?) -> String {
    guard let m else { return "        -" }
    let seconds = (m.seconds * 100).rounded() / 100
    return "\(seconds) s, \(m.peakBytes >> 20) MiB"
}

func ratioText(_ mine: Measurement?, _ theirs: Measurement?, label: String = "peer/gatesurgeon") -> String {
    guard let mine, let theirs else { return "" }
    let time = ((theirs.seconds / mine.seconds) * 100).rounded() / 100
    let memory = ((Double(theirs.peakBytes) / Double(max(1, mine.peakBytes))) * 10).rounded() / 10
    return "\n  \(label): time \(time)x, peak memory \(memory)x"
}

/// The repository's folder (this file is Sources/GateSurgeonBenchmarks/main.swift).
enum Repository {
    static let root = Paths.directory(of: Paths.directory(of: Paths.directory(of: #filePath)))
}

/// Encodes 1 MB of the tokenizer corpus with the tokenizer at `path`, in this process.
func timeTokenizer(_ path: String) throws {
    let corpusPath = Paths.join(Repository.root, "fixtures/tokenizers/corpus.json")
    let texts = try JSONValue.parse(try Paths.readFile(corpusPath))["texts"]?.arrayValue?.compactMap(\.stringValue) ?? []
    guard !texts.isEmpty else { throw ValidationError("\(corpusPath) holds no texts") }
    var text = ""
    while text.utf8.count < 1 << 20 { for t in texts { text += t + "\n" } }
    let tokenizer = path.hasSuffix(".gguf") ? try Tokenizer(gguf: try GGUFFile(path: path)) : try Tokenizer(directory: path)
    _ = try tokenizer.encode(String(text.prefix(10_000)))
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let ids = try tokenizer.encode(text)
    clock_gettime(CLOCK_MONOTONIC, &end)
    let elapsed = seconds(from: start, to: end)
    print("tokenized \(text.utf8.count) bytes into \(ids.count) tokens in \((elapsed * 1000).rounded() / 1000) s with \(path)")
}

/// One run of the benchmark's sections.
struct BenchmarkRun {
    let options: Benchmark
    let binary: String
    let work: String
    let threads: String
    /// The level gatesurgeon's kernels run at, here and in the children.
    let level: VectorKernels.Level
    /// " [kernels LEVEL]", appended to every task gatesurgeon runs.
    let levelTag: String

    init(_ options: Benchmark) {
        self.options = options
        binary = Paths.join(Paths.directory(of: CommandLine.arguments[0]), "gatesurgeon")
        work = options.work
        threads = String(options.threads)
        level = VectorKernels.best
        levelTag = " [kernels \(VectorKernels.best)]"
    }

    var model: String { Paths.join(work, "model") }
    var f32Model: String { Paths.join(work, "model-f32") }
    var f32File: String { Paths.join(f32Model, "model.safetensors") }

    func fileSize(_ path: String) -> Int { (try? MappedFile(path: path).size) ?? 0 }

    func run() throws {
        printMachine()
        mkdir(work, 0o755)
        let sections = Set(options.sections)
        print("sections: \(Section.allCases.filter(sections.contains).map(\.rawValue).joined(separator: ", ")); \(options.threads) threads\n")
        if sections.contains(.kernels) { timeKernels() }
        if sections.contains(.casts) { try casts() }
        if sections.contains(.convert) { try convert() }
        if sections.contains(.quantize) { try quantizeSection() }
        if sections.contains(.gate) { try gate() }
        if sections.contains(.forward) { try forward() }
        if sections.contains(.split) { try split() }
        if sections.contains(.big) { try big() }
        if sections.contains(.sevenB) { try sevenB() }
    }

    /// The CPU, the features the kernels look for, and the level they run at.
    func printMachine() {
        let cpuinfo = readProcFile("/proc/cpuinfo")
        let name = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.drop { $0 != ":" }.dropFirst()).trimmingSpaces } ?? "unknown CPU"
        print("CPU: \(name), \(Parallel.coreCount) cores")
        print("CPU features: \(VectorKernels.cpuFeatures.isEmpty ? "none the kernels use" : VectorKernels.cpuFeatures.joined(separator: " "))")
        let why: String
        if let forced = options.kernels {
            why = "--kernels \(forced); this CPU runs up to \(VectorKernels.supported)"
        } else if case .level(let asked) = VectorKernels.environmentSetting {
            why = "GATESURGEON_KERNELS=\(asked); this CPU runs up to \(VectorKernels.supported)"
        } else {
            why = "the fastest this CPU runs"
        }
        print("gatesurgeon kernels: \(level) (\(why))")
        for (name, path) in [("llama-quantize", options.quantize), ("llama-bench", options.llamaBench)] {
            if let path { print("\(name): \(path)") }
        }
    }

    // MARK: Synthetic models

    /// A random BF16 Llama checkpoint with a config and the fixture tokenizer.
    func makeModel(at directory: String, layers: Int? = nil, hidden: Int? = nil, intermediate: Int? = nil) throws {
        mkdir(directory, 0o755)
        let (D, F, V, L) = (hidden ?? options.hidden, intermediate ?? options.intermediate, options.vocab, layers ?? options.layers)
        let heads = D / 128
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [V, D]), ("model.norm.weight", [D]), ("lm_head.weight", [V, D])]
        for layer in 0..<L {
            let p = "model.layers.\(layer)."
            shapes += [(p + "input_layernorm.weight", [D]), (p + "post_attention_layernorm.weight", [D]),
                       (p + "self_attn.q_proj.weight", [D, D]), (p + "self_attn.k_proj.weight", [D / 4, D]),
                       (p + "self_attn.v_proj.weight", [D / 4, D]), (p + "self_attn.o_proj.weight", [D, D]),
                       (p + "mlp.gate_proj.weight", [F, D]), (p + "mlp.up_proj.weight", [F, D]), (p + "mlp.down_proj.weight", [D, F])]
        }
        let tensors = shapes.enumerated().map { index, entry in
            let (name, shape) = entry
            let count = shape.reduce(1, *)
            return OutputTensor(name: name, dtype: .bf16, shape: shape, byteCount: count * 2) { output in
                var generator = SyntheticWeights(seed: UInt64(index + 1))
                var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20) * 2)
                var written = 0
                while written < count {
                    let n = min(count - written, chunk.count / 2)
                    for i in 0..<n {
                        let value = shape.count == 1 ? 1 + generator.next() * 2 : generator.next()
                        let bits = UInt16(value.bitPattern >> 16)
                        chunk[2 * i] = UInt8(bits & 0xff)
                        chunk[2 * i + 1] = UInt8(bits >> 8)
                    }
                    try output.write(Array(chunk[0..<(2 * n)]))
                    written += n
                }
            }
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: Paths.join(directory, "model.safetensors"))
        let config: JSONValue = .object([
            "architectures": .array([.string("LlamaForCausalLM")]), "model_type": .string("llama"),
            "hidden_size": .int(Int64(D)), "intermediate_size": .int(Int64(F)), "num_hidden_layers": .int(Int64(L)),
            "num_attention_heads": .int(Int64(heads)), "num_key_value_heads": .int(Int64(heads / 4)), "vocab_size": .int(Int64(V)),
            "max_position_embeddings": .int(4096), "rms_norm_eps": .double(1e-5), "rope_theta": .double(10000),
            "tie_word_embeddings": .bool(false), "torch_dtype": .string("bfloat16"), "bos_token_id": .int(1), "eos_token_id": .int(2),
        ])
        try Paths.writeText(config.serialized(.indented), to: Paths.join(directory, "config.json"))
        let fixtures = Paths.join(Repository.root, "fixtures/models/llama")
        for name in ["tokenizer.model", "tokenizer_config.json", "tokenizer.json"] {
            try Paths.copyFile(from: Paths.join(fixtures, name), to: Paths.join(directory, name))
        }
    }

    /// The synthetic BF16 model (--layers), made once.
    func ensureModel() throws {
        guard !Paths.exists(Paths.join(model, "model.safetensors")) else { return }
        print("making a synthetic checkpoint in \(model)...")
        try makeModel(at: model)
        print("model: \(options.layers) layers, hidden \(options.hidden), \(fileSize(Paths.join(model, "model.safetensors")) >> 20) MiB of BF16 weights\n")
    }

    /// The F32 model of the casts (--cast-layers), made once.
    func ensureF32Model() throws {
        guard !Paths.exists(f32File) else { return }
        let castModel = Paths.join(work, "cast-model")
        if !Paths.exists(Paths.join(castModel, "model.safetensors")) { try makeModel(at: castModel, layers: options.castLayers) }
        _ = measure([binary, "convert", castModel, f32Model + "/", "--dtype", "f32", "--force"])
        Paths.removeTree(castModel)
    }

    // MARK: Runs

    func run(_ label: String, ours: [String], peer: [String]?) {
        for path in ["ours", "ours.gguf", "peer.gguf", "ours.safetensors"] { Paths.removeTree(Paths.join(work, path)) }
        let mine = measure(ours)
        let theirs = peer.flatMap { measure($0) }
        print("\(label)\(levelTag)\n  gatesurgeon: \(format(mine))\n  peer:        \(format(theirs))\(ratioText(mine, theirs))")
    }

    /// Median of `runs` alternating runs of gatesurgeon and each peer (page cache warm for all).
    func alternating(_ label: String, ours: [String], peers: [(String, [String])], runs: Int = 3, clean: [String]) {
        var mine: [Measurement] = []
        var theirs = [[Measurement]](repeating: [], count: peers.count)
        if let first = peers.first { _ = measure(first.1) }  // warm the page cache with the input
        for _ in 0..<runs {
            for path in clean { Paths.removeTree(path) }
            if let m = measure(ours) { mine.append(m) }
            for (index, peer) in peers.enumerated() {
                for path in clean { Paths.removeTree(path) }
                if let m = measure(peer.1) { theirs[index].append(m) }
            }
        }
        for path in clean { Paths.removeTree(path) }
        func median(_ all: [Measurement]) -> Measurement? { all.sorted { $0.seconds < $1.seconds }.dropFirst(all.count / 2).first }
        print("\(label) (median of \(runs))\(levelTag)\n  gatesurgeon: \(format(median(mine)))")
        for (index, peer) in peers.enumerated() {
            print("  \(peer.0): \(format(median(theirs[index])))\(ratioText(median(mine), median(theirs[index]), label: "\(peer.0)/gatesurgeon"))")
        }
    }

    // MARK: Kernels in process

    /// Each --kernel-types quantizer on --kernel-values synthetic F32 values
    /// (rows of 4096, weights-like), on this thread, at every level this
    /// CPU runs (only --kernels when given): CPU seconds, median of 3, and
    /// a check that every level wrote the same bytes.
    func timeKernels() {
        let count = options.kernelValues
        let rowLength = count % 4096 == 0 ? 4096 : 256
        var generator = SyntheticWeights(seed: 7)
        let values = (0..<count).map { _ in generator.next() }
        let importance = (0..<rowLength).map { Float(1 + ($0 * 7919) % 97) / 16 }
        let levels = options.kernels.map { [$0] } ?? VectorKernels.available
        Parallel.limitWorkers(to: 1)
        defer { Parallel.limitWorkers(to: options.threads) }
        print("kernels: in process, 1 thread, \(count) F32 values (\((count * 4) >> 20) MiB) per run, CPU seconds (median of 3)")
        for type in options.kernelTypes {
            for weighted in [false, true] where !weighted || supportsImportance(type) {
                var line = "  \(type.name)\(weighted ? " with importance" : "")".padding(to: 26)
                var reference: [UInt8]?
                var first: Double?
                for level in levels {
                    var output = [UInt8](repeating: 0, count: type.byteCount(elements: count) ?? 0)
                    var times: [Double] = []
                    for _ in 0..<3 {
                        var start = timespec(), end = timespec()
                        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start)
                        let succeeded = VectorKernels.withLevel(level) {
                            values.withUnsafeBufferPointer { source in
                                importance.withUnsafeBufferPointer { weights in
                                    output.withUnsafeMutableBytes { destination in
                                        (try? ElementConversion.encode(
                                            source, as: type, into: destination, rowLength: rowLength,
                                            importance: weighted ? weights : nil)) != nil
                                    }
                                }
                            }
                        }
                        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end)
                        guard succeeded else {
                            line += " \(level): failed"
                            break
                        }
                        times.append(seconds(from: start, to: end))
                    }
                    guard times.count == 3 else { continue }
                    let time = times.sorted()[1]
                    let rate = Double(count * 4) / 1e6 / time
                    line += " \(level) \((time * 10000).rounded() / 10000) s (\(Int(rate.rounded())) MB/s"
                    if let first { line += ", \((first / time * 10).rounded() / 10)x" } else { first = time }
                    line += ")"
                    if let reference, reference != output { line += " BYTES DIFFER" }
                    reference = reference ?? output
                }
                print(line)
            }
        }
        print("")
    }

    func supportsImportance(_ type: DType) -> Bool {
        [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS].contains(type)
    }

    // MARK: Casts against cp

    func casts() throws {
        try ensureF32Model()
        print("cast input: \(options.castLayers) layers, \(fileSize(f32File) >> 20) MiB of F32 weights")
        let castOut = Paths.join(work, "ours.safetensors"), copyOut = Paths.join(work, "copy.safetensors")
        for dtype in ["bf16", "f16"] {
            // gatesurgeon syncs its output to disk before it commits it; `sync FILE`
            // after cp does the same for the copy.
            alternating("F32 -> \(dtype.uppercased()) safetensors (peers: cp of the input, the I/O limit; cp then sync of the copy)",
                        ours: [binary, "convert", f32File, castOut, "--dtype", dtype, "--force", "--threads", threads],
                        peers: [("cp", ["cp", f32File, copyOut]), ("cp+sync", ["sh", "-c", "cp \"$0\" \"$1\" && sync \"$1\"", f32File, copyOut])],
                        clean: [castOut, copyOut])
        }
    }

    // MARK: Converter and llama-quantize

    func convert() throws {
        try ensureModel()
        let converter = options.llamaCpp.map { Paths.join($0, "convert_hf_to_gguf.py") }
        run("safetensors -> GGUF F16 (peer: convert_hf_to_gguf.py --outtype f16)",
            ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--dtype", "f16", "--force", "--threads", threads],
            peer: converter.map { [options.python, $0, model, "--outtype", "f16", "--outfile", Paths.join(work, "peer.gguf")] })
        run("safetensors -> GGUF Q8_0 (peer: convert_hf_to_gguf.py --outtype q8_0)",
            ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--quant", "q8_0", "--force", "--threads", threads],
            peer: converter.map { [options.python, $0, model, "--outtype", "q8_0", "--outfile", Paths.join(work, "peer.gguf")] })
    }

    func quantizeSection() throws {
        try ensureModel()
        try ensureF32Model()
        let f16 = Paths.join(work, "input-f16.gguf")
        if !Paths.exists(f16) { _ = measure([binary, "convert", model, f16, "--dtype", "f16", "--force"]) }
        let f32GGUF = Paths.join(work, "input-f32.gguf")
        if !Paths.exists(f32GGUF) { _ = measure([binary, "convert", f32Model, f32GGUF, "--dtype", "f32", "--force"]) }
        let outputs = [Paths.join(work, "ours.gguf"), Paths.join(work, "peer.gguf")]
        for (input, inputName) in [(f32GGUF, "F32"), (f16, "F16")] {
            print("quantize input: GGUF \(inputName), \(fileSize(input) >> 20) MiB")
            let types = options.quantTypes ?? (inputName == "F32" ? [.q8_0, .q4_0, .q4_K] : [.q8_0, .q4_K, .q6_K])
            for type in types {
                alternating("GGUF \(inputName) -> \(type.name) (peer: llama-quantize --pure, \(threads) threads)",
                            ours: [binary, "convert", input, outputs[0], "--quant", type.name.lowercased(), "--pure", "--force", "--threads", threads],
                            peers: options.quantize.map { tool in
                                let arguments = [tool, "--pure", input, outputs[1], type.name, threads]
                                return [("llama-quantize", arguments),
                                        ("llama-quantize+sync", ["sh", "-c", "\"$@\" && sync \"$4\"", "sh"] + arguments)]
                            } ?? [],
                            runs: 1, clean: outputs)
            }
        }
        // The preset users pick most: llama-quantize's per-tensor rules, not --pure.
        alternating("GGUF F16 -> Q4_K_M preset (peer: llama-quantize Q4_K_M, \(threads) threads)",
                    ours: [binary, "convert", f16, outputs[0], "--quant", "q4_k_m", "--force", "--threads", threads],
                    peers: options.quantize.map { [("llama-quantize", [$0, f16, outputs[1], "Q4_K_M", threads])] } ?? [],
                    runs: 1, clean: outputs)
    }

    func gate() throws {
        try ensureModel()
        run("add-gate (no peer tool can)", ours: [binary, "add-gate", model, Paths.join(work, "ours"), "--force", "--threads", threads], peer: nil)
        if !Paths.exists(Paths.join(work, "gated")) {
            _ = measure([binary, "add-gate", model, Paths.join(work, "gated")])
        }
        run("verify model against its gated copy, 32 tokens each",
            ours: [binary, "verify", model, Paths.join(work, "gated"), "--max-abs", "0", "--threads", threads], peer: nil)
    }

    // MARK: Forward pass against llama-bench

    func tokenList(_ count: Int, vocab: Int) -> [Int] { (0..<count).map { ($0 * 7919 + 13) % vocab } }

    /// Tokens per second llama-bench reports for `-p sizes` (its JSON output).
    func llamaBenchRates(_ bench: String, model: String, sizes: [Int]) -> [Int: Double] {
        let output = Paths.join(work, "llama-bench.json")
        _ = measure([bench, "-m", model, "-p", sizes.map(String.init).joined(separator: ","), "-n", "0",
                     "-t", threads, "-r", "3", "-o", "json"], output: output)
        var rates: [Int: Double] = [:]
        if let text = try? Paths.readFile(output), let rows = try? JSONValue.parse(text).arrayValue {
            for row in rows {
                if let n = row["n_prompt"]?.doubleValue, let rate = row["avg_ts"]?.doubleValue { rates[Int(n)] = rate }
            }
        }
        return rates
    }

    func forward() throws {
        guard let forwardModel = options.forwardModel else {
            print("forward: skipped (no --forward-model)\n")
            return
        }
        let sizes = [32, 128, 512]
        let f32Forward = Paths.join(work, "forward-f32.gguf")
        _ = measure([binary, "convert", forwardModel, f32Forward, "--dtype", "f32", "--force"])
        for (path, name) in [(f32Forward, "F32"), (forwardModel, "as published (\(Paths.lastComponent(of: forwardModel)))")] {
            let graph = try ModelGraph(checkpoint: try Checkpoint(path: path))
            let vocab = graph.config.vocabSize
            Parallel.limitWorkers(to: options.threads)
            print("forward pass, \(name), \(threads) threads\(levelTag):")
            let rates = options.llamaBench.map { llamaBenchRates($0, model: path, sizes: sizes) } ?? [:]
            for n in sizes {
                let tokens = tokenList(n, vocab: vocab)
                // Like llama-bench's prompt processing: logits of the last position only.
                var forwardOptions = ForwardOptions()
                forwardOptions.logitsOfLastPositionOnly = true
                let pass = ForwardPass(graph: graph, options: forwardOptions)
                _ = try pass.run(tokens: Array(tokens.prefix(8)))  // pages in the weights
                var start = timespec(), end = timespec()
                clock_gettime(CLOCK_MONOTONIC, &start)
                _ = try pass.run(tokens: tokens)
                clock_gettime(CLOCK_MONOTONIC, &end)
                let ours = Double(n) / seconds(from: start, to: end)
                let whole = measure([binary, "forward", path, "--tokens", tokens.map(String.init).joined(separator: ","), "--threads", threads])
                let peerWhole = options.llamaBench.flatMap { bench in
                    measure([bench, "-m", path, "-p", String(n), "-n", "0", "-t", threads, "-r", "1", "--no-warmup"])
                }
                var line = "  \(n) tokens: in process \(Int(ours.rounded())) tokens/s"
                if let peer = rates[n] { line += ", llama-bench \(Int(peer.rounded())) tokens/s, ratio \((ours / peer * 100).rounded() / 100)x" }
                line += "\n    whole process: gatesurgeon forward \(format(whole)), llama-bench -r 1 \(format(peerWhole))\(ratioText(whole, peerWhole))"
                print(line)
            }
        }
    }

    // MARK: A split GGUF against the same model in one file

    func split() throws {
        try ensureModel()
        let whole = Paths.join(work, "input-f16.gguf")
        if !Paths.exists(whole) { _ = measure([binary, "convert", model, whole, "--dtype", "f16", "--force"]) }
        for entry in Paths.entries(of: work) where entry.hasPrefix("split-f16-") { Paths.removeTree(Paths.join(work, entry)) }
        let partSize = max(1, fileSize(whole) / 4 / 1_000_000)
        _ = measure([binary, "convert", whole, Paths.join(work, "split-f16.gguf"), "--split-max-size", "\(partSize)M"])
        let parts = Paths.entries(of: work).filter { $0.hasPrefix("split-f16-") }.sorted()
        if let first = parts.first {
            let out = Paths.join(work, "ours.gguf")
            print("split input: GGUF F16, \(fileSize(whole) >> 20) MiB, in \(parts.count) parts")
            alternating("GGUF F16 -> Q8_0 from \(parts.count) parts (peer: the same model in one file)",
                        ours: [binary, "convert", Paths.join(work, first), out, "--quant", "q8_0", "--pure", "--force", "--threads", threads],
                        peers: [("one file", [binary, "convert", whole, out, "--quant", "q8_0", "--pure", "--force", "--threads", threads])],
                        clean: [out])
        }
        for entry in parts { Paths.removeTree(Paths.join(work, entry)) }
    }

    // MARK: Memory from 1 GB to 8 GB

    func big() throws {
        try ensureModel()
        let bigModel = Paths.join(work, "big-model")
        let layers = 88
        if !Paths.exists(Paths.join(bigModel, "model.safetensors")) {
            print("making an \(layers)-layer model in \(bigModel)...")
            try makeModel(at: bigModel, layers: layers)
        }
        print("big model: \(fileSize(Paths.join(bigModel, "model.safetensors")) >> 20) MiB of BF16 weights")
        for (input, name) in [(model, "\(options.layers) layers"), (bigModel, "\(layers) layers")] {
            run("\(name): safetensors -> GGUF Q8_0 (peak memory must not grow)",
                ours: [binary, "convert", input, Paths.join(work, "ours.gguf"), "--quant", "q8_0", "--force", "--threads", threads], peer: nil)
            run("\(name): forward pass, 32 tokens",
                ours: [binary, "forward", input, "--tokens", tokenList(32, vocab: options.vocab).map(String.init).joined(separator: ","), "--threads", threads], peer: nil)
        }
        Paths.removeTree(bigModel)
    }

    // MARK: verify of a 7B-shaped model

    func sevenB() throws {
        let sevenB = Paths.join(work, "model-7b")
        if !Paths.exists(Paths.join(sevenB, "model.safetensors")) {
            print("making a 7B-shaped model in \(sevenB)...")
            try makeModel(at: sevenB, layers: 32, hidden: 4096, intermediate: 11008)
        }
        print("7B-shaped model: \(fileSize(Paths.join(sevenB, "model.safetensors")) >> 20) MiB of BF16 weights")
        run("verify, 7B-shaped BF16 model against itself, 64 tokens",
            ours: [binary, "verify", sevenB, sevenB, "--random-tokens", "64", "--max-abs", "0", "--threads", threads], peer: nil)
        Paths.removeTree(sevenB)
    }
}

/// Weight-like random values: roughly N(0, 0.02) from the sum of two
/// uniforms (an LCG, so every run makes the same models).
struct SyntheticWeights {
    var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 }

    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        let u = Float(state >> 40) / Float(1 << 24) + Float((state >> 16) & 0xFFFFFF) / Float(1 << 24) - 1
        return u * 0.05
    }
}

extension String {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    func padding(to width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

// Options errors are one line (`error: ...`, exit status 2); --help prints the help.
do {
    var command = try Benchmark.parseAsRoot()
    try command.run()
} catch {
    let code = Benchmark.exitCode(for: error)
    if code == .success {
        print(Benchmark.fullMessage(for: error))
        exit(0)
    }
    let message = Benchmark.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
    let text = message.hasPrefix("Error: ") ? String(message.dropFirst("Error: ".count)) : message
    let line = Array("error: \(text)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
