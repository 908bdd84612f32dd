// gatesurgeon-bench: times gatesurgeon against the peer tools on synthetic
// Llama-shaped checkpoints and prints wall time, peak memory and ratios.
//
//   swift build -c release
//   .build/release/gatesurgeon-bench --threads 2 \
//       --llama-cpp fixtures/.work/llama_cpp_python-0.3.36/vendor/llama.cpp \
//       --quantize fixtures/.work/build-bench/bin/llama-quantize \
//       --llama-bench fixtures/.work/build-bench/bin/llama-bench \
//       --forward-model fixtures/.work/real/SmolLM2-135M-Instruct.Q4_1.gguf \
//       --python /path/to/venv/bin/python [--sections casts,tools,forward,big,7b]
//
// Each command runs as a child process; peak memory is the child's maximum
// resident set size from wait4(2). Sections:
// - casts: F32 -> BF16 / F16 of a --cast-layers F32 model against `cp` of the
//   same file (the limit: reading and writing the bytes), medians of
//   alternating runs with the page cache warm;
// - the converter and llama-quantize (at --threads) on the BF16 / F32 model;
// - the forward pass against llama-bench at --threads on --forward-model
//   (dequantized to F32 and as published), whole process against whole
//   process and, in this process, the forward pass alone against the
//   tokens per second llama-bench reports;
// - split: the F16 GGUF of the model written in four parts (as llama-gguf-split writes them), read
//   and quantized to Q8_0 from its first part against the same model in one file: time and peak
//   memory must match;
// - big (not run by default): a model of at least 8 GB, whose peak memory must equal the small one's;
// - 7b (not run by default): `verify` of a 7B-shaped BF16 model against itself on 64 tokens.
//
//   .build/release/gatesurgeon-bench --tokenize fixtures/tokenizers/qwen2-real
//
// times encoding 1 MB of the tokenizer corpus (fixtures/tokenizers/corpus.json, repeated) in
// process with the directory's tokenizer.json (or a .gguf file's tokenizer), and exits.

import GateSurgeon
import JSON

import Platform

struct Options {
    var layers = 8
    var hidden = 2048
    var intermediate = 5632
    var vocab = 32000
    var work = "/tmp/gatesurgeon-bench"
    var llamaCpp: String?
    var quantize: String?
    var python = "python3"
    var threads = Parallel.coreCount
    var llamaBench: String?
    var forwardModel: String?
    var castLayers = 12
    /// Which parts run: casts, tools (converter, llama-quantize, add-gate, verify), forward, split, big, 7b.
    var sections: Set<String> = ["casts", "tools", "forward", "split"]
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = CommandLine.arguments.dropFirst().makeIterator()
    while let flag = arguments.next() {
        guard let value = arguments.next() else { fatalError("\(flag) needs a value") }
        switch flag {
        case "--layers": options.layers = Int(value)!
        case "--hidden": options.hidden = Int(value)!
        case "--intermediate": options.intermediate = Int(value)!
        case "--vocab": options.vocab = Int(value)!
        case "--work": options.work = value
        case "--llama-cpp": options.llamaCpp = value
        case "--quantize": options.quantize = value
        case "--python": options.python = value
        case "--threads": options.threads = Int(value)!
        case "--llama-bench": options.llamaBench = value
        case "--forward-model": options.forwardModel = value
        case "--cast-layers": options.castLayers = Int(value)!
        case "--sections": options.sections = Set(value.split(separator: ",").map(String.init))
        default: fatalError("unknown option \(flag)")
        }
    }
    return options
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
    guard posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ) == 0 else { return nil }
    var status: Int32 = 0
    var usage = rusage()
    wait4(pid, &status, 0, &usage)
    var end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &end)
    guard status == 0 else {
        print("  failed (status \(status)): \(arguments.joined(separator: " "))")
        return nil
    }
    let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    return Measurement(seconds: seconds, peakBytes: Int(usage.ru_maxrss) * 1024)
}

/// A random BF16 Llama checkpoint with a config and the fixture tokenizer.
func makeModel(_ options: Options, at directory: String, layers: Int? = nil, hidden: Int? = nil, intermediate: Int? = nil) throws {
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
            var state = UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15
            var chunk = [UInt8](repeating: 0, count: min(count, 1 << 20) * 2)
            var written = 0
            while written < count {
                let n = min(count - written, chunk.count / 2)
                for i in 0..<n {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    // Roughly N(0, 0.02) from the sum of two uniforms; norms near 1.
                    let u = Float(state >> 40) / Float(1 << 24) + Float((state >> 16) & 0xFFFFFF) / Float(1 << 24) - 1
                    let value = shape.count == 1 ? 1 + u * 0.1 : u * 0.05
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
    let fixtures = Paths.join(Paths.directory(of: Paths.directory(of: Paths.directory(of: #filePath))), "fixtures/models/llama")
    for name in ["tokenizer.model", "tokenizer_config.json", "tokenizer.json"] {
        try Paths.copyFile(from: Paths.join(fixtures, name), to: Paths.join(directory, name))
    }
}

func format(_ m: Measurement?) -> String {
    guard let m else { return "        -" }
    let seconds = (m.seconds * 100).rounded() / 100
    return "\(seconds) s, \(m.peakBytes >> 20) MiB"
}

if let index = CommandLine.arguments.firstIndex(of: "--tokenize"), index + 1 < CommandLine.arguments.count {
    let directory = CommandLine.arguments[index + 1]
    let corpusPath = Paths.join(Paths.directory(of: Paths.directory(of: Paths.directory(of: #filePath))), "fixtures/tokenizers/corpus.json")
    let texts = try JSONValue.parse(try Paths.readFile(corpusPath))["texts"]?.arrayValue?.compactMap(\.stringValue) ?? []
    var text = ""
    while text.utf8.count < 1 << 20 { for t in texts { text += t + "\n" } }
    let tokenizer = directory.hasSuffix(".gguf") ? try Tokenizer(gguf: try GGUFFile(path: directory)) : try Tokenizer(directory: directory)
    _ = try tokenizer.encode(String(text.prefix(10_000)))
    var start = timespec(), end = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    let ids = try tokenizer.encode(text)
    clock_gettime(CLOCK_MONOTONIC, &end)
    let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    print("tokenized \(text.utf8.count) bytes into \(ids.count) tokens in \((seconds * 1000).rounded() / 1000) s with \(directory)")
    exit(0)
}

let options = parseOptions()
let binary = Paths.join(Paths.directory(of: CommandLine.arguments[0]), "gatesurgeon")
let work = options.work
let threads = String(options.threads)
mkdir(work, 0o755)
let model = Paths.join(work, "model")
if !Paths.exists(Paths.join(model, "model.safetensors")) {
    print("making a synthetic checkpoint in \(model)...")
    try makeModel(options, at: model)
}
func fileSize(_ path: String) -> Int { (try? MappedFile(path: path).size) ?? 0 }
let size = fileSize(Paths.join(model, "model.safetensors"))
print("model: \(options.layers) layers, hidden \(options.hidden), \(size >> 20) MiB of BF16 weights; \(options.threads) threads")
print("")

func ratioText(_ mine: Measurement?, _ theirs: Measurement?, label: String = "peer/gatesurgeon") -> String {
    guard let mine, let theirs else { return "" }
    let time = ((theirs.seconds / mine.seconds) * 100).rounded() / 100
    let memory = ((Double(theirs.peakBytes) / Double(max(1, mine.peakBytes))) * 10).rounded() / 10
    return "\n  \(label): time \(time)x, peak memory \(memory)x"
}

@MainActor func run(_ label: String, ours: [String], peer: [String]?) {
    for path in ["ours", "ours.gguf", "peer.gguf", "ours.safetensors"] { Paths.removeTree(Paths.join(work, path)) }
    let mine = measure(ours)
    let theirs = peer.flatMap { measure($0) }
    print("\(label)\n  gatesurgeon: \(format(mine))\n  peer:        \(format(theirs))\(ratioText(mine, theirs))")
}

/// Median of `runs` alternating runs of gatesurgeon and each peer (page cache warm for all).
@MainActor func alternating(_ label: String, ours: [String], peers: [(String, [String])], runs: Int = 3, clean: [String]) {
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
    print("\(label) (median of \(runs))\n  gatesurgeon: \(format(median(mine)))")
    for (index, peer) in peers.enumerated() {
        print("  \(peer.0): \(format(median(theirs[index])))\(ratioText(median(mine), median(theirs[index]), label: "\(peer.0)/gatesurgeon"))")
    }
}

// MARK: Casts against cp

let castModel = Paths.join(work, "cast-model")
let f32Model = Paths.join(work, "model-f32")
let f32File = Paths.join(f32Model, "model.safetensors")
if !Paths.exists(f32File) && (options.sections.contains("casts") || options.sections.contains("tools")) {
    if !Paths.exists(Paths.join(castModel, "model.safetensors")) { try makeModel(options, at: castModel, layers: options.castLayers) }
    _ = measure([binary, "convert", castModel, f32Model + "/", "--dtype", "f32", "--force"])
    Paths.removeTree(castModel)
}
if options.sections.contains("casts") {
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

if options.sections.contains("tools") {
    let converter = options.llamaCpp.map { Paths.join($0, "convert_hf_to_gguf.py") }
    run("safetensors -> GGUF F16 (peer: convert_hf_to_gguf.py --outtype f16)",
        ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--dtype", "f16", "--force", "--threads", threads],
        peer: converter.map { [options.python, $0, model, "--outtype", "f16", "--outfile", Paths.join(work, "peer.gguf")] })
    let f16 = Paths.join(work, "input-f16.gguf")
    _ = measure([binary, "convert", model, f16, "--dtype", "f16", "--force"])
    let f32GGUF = Paths.join(work, "input-f32.gguf")
    _ = measure([binary, "convert", f32Model, f32GGUF, "--dtype", "f32", "--force"])
    run("safetensors -> GGUF Q8_0 (peer: convert_hf_to_gguf.py --outtype q8_0)",
        ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--quant", "q8_0", "--force", "--threads", threads],
        peer: converter.map { [options.python, $0, model, "--outtype", "q8_0", "--outfile", Paths.join(work, "peer.gguf")] })
    for (input, inputName) in [(f32GGUF, "F32"), (f16, "F16")] {
        print("quantize input: GGUF \(inputName), \(fileSize(input) >> 20) MiB")
        let types = inputName == "F32" ? [("q8_0", "Q8_0"), ("q4_0", "Q4_0"), ("q4_k", "Q4_K")] : [("q8_0", "Q8_0"), ("q4_k", "Q4_K"), ("q6_k", "Q6_K")]
        for (type, name) in types {
            alternating("GGUF \(inputName) -> \(name) (peer: llama-quantize --pure, \(threads) threads)",
                        ours: [binary, "convert", input, Paths.join(work, "ours.gguf"), "--quant", type, "--pure", "--force", "--threads", threads],
                        peers: options.quantize.map { tool in
                            let arguments = [tool, "--pure", input, Paths.join(work, "peer.gguf"), name, threads]
                            return [("llama-quantize", arguments),
                                    ("llama-quantize+sync", ["sh", "-c", "\"$@\" && sync \"$4\"", "sh"] + arguments)]
                        } ?? [],
                        runs: 1, clean: [Paths.join(work, "ours.gguf"), Paths.join(work, "peer.gguf")])
        }
    }
    // The preset users pick most: llama-quantize's per-tensor rules, not --pure.
    alternating("GGUF F16 -> Q4_K_M preset (peer: llama-quantize Q4_K_M, \(threads) threads)",
                ours: [binary, "convert", f16, Paths.join(work, "ours.gguf"), "--quant", "q4_k_m", "--force", "--threads", threads],
                peers: options.quantize.map { [("llama-quantize", [$0, f16, Paths.join(work, "peer.gguf"), "Q4_K_M", threads])] } ?? [],
                runs: 1, clean: [Paths.join(work, "ours.gguf"), Paths.join(work, "peer.gguf")])
    run("add-gate (no peer tool can)", ours: [binary, "add-gate", model, Paths.join(work, "ours"), "--force", "--threads", threads], peer: nil)
    if !Paths.exists(Paths.join(work, "gated")) {
        _ = measure([binary, "add-gate", model, Paths.join(work, "gated")])
    }
    run("verify model against its gated copy, 32 tokens each", ours: [binary, "verify", model, Paths.join(work, "gated"), "--max-abs", "0", "--threads", threads], peer: nil)
}

// MARK: Forward pass against llama-bench

func tokenList(_ count: Int, vocab: Int) -> [Int] { (0..<count).map { ($0 * 7919 + 13) % vocab } }

/// Tokens per second llama-bench reports for `-p sizes` (its JSON output).
func llamaBenchRates(_ bench: String, model: String, sizes: [Int]) -> ([Int: Double], Measurement?) {
    let output = Paths.join(work, "llama-bench.json")
    let measurement = measure([bench, "-m", model, "-p", sizes.map(String.init).joined(separator: ","), "-n", "0",
                               "-t", threads, "-r", "3", "-o", "json"], output: output)
    var rates: [Int: Double] = [:]
    if let text = try? Paths.readFile(output), let rows = try? JSONValue.parse(text).arrayValue {
        for row in rows {
            if let n = row["n_prompt"]?.doubleValue, let rate = row["avg_ts"]?.doubleValue { rates[Int(n)] = rate }
        }
    }
    return (rates, measurement)
}

if options.sections.contains("forward"), let forwardModel = options.forwardModel {
    let sizes = [32, 128, 512]
    let f32Forward = Paths.join(work, "forward-f32.gguf")
    _ = measure([binary, "convert", forwardModel, f32Forward, "--dtype", "f32", "--force"])
    for (path, name) in [(f32Forward, "F32"), (forwardModel, "as published (\(Paths.lastComponent(of: forwardModel)))")] {
        let graph = try ModelGraph(checkpoint: try Checkpoint(path: path))
        let vocab = graph.config.vocabSize
        Parallel.limitWorkers(to: options.threads)
        print("forward pass, \(name), \(threads) threads:")
        let (rates, _) = options.llamaBench.map { llamaBenchRates($0, model: path, sizes: sizes) } ?? ([:], nil)
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
            let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
            let ours = Double(n) / seconds
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

if options.sections.contains("split") {
    let whole = Paths.join(work, "input-f16.gguf")
    if !Paths.exists(whole) { _ = measure([binary, "convert", model, whole, "--dtype", "f16", "--force"]) }
    for entry in Paths.entries(of: work) where entry.hasPrefix("split-f16-") { Paths.removeTree(Paths.join(work, entry)) }
    let partSize = max(1, fileSize(whole) / 4 / 1_000_000)
    _ = measure([binary, "convert", whole, Paths.join(work, "split-f16.gguf"), "--split-max-size", "\(partSize)M"])
    let parts = Paths.entries(of: work).filter { $0.hasPrefix("split-f16-") }
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

if options.sections.contains("big") {
    let bigModel = Paths.join(work, "big-model")
    let layers = 88
    if !Paths.exists(Paths.join(bigModel, "model.safetensors")) {
        print("making an \(layers)-layer model in \(bigModel)...")
        try makeModel(options, at: bigModel, layers: layers)
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

if options.sections.contains("7b") {
    let sevenB = Paths.join(work, "model-7b")
    if !Paths.exists(Paths.join(sevenB, "model.safetensors")) {
        print("making a 7B-shaped model in \(sevenB)...")
        try makeModel(options, at: sevenB, layers: 32, hidden: 4096, intermediate: 11008)
    }
    print("7B-shaped model: \(fileSize(Paths.join(sevenB, "model.safetensors")) >> 20) MiB of BF16 weights")
    run("verify, 7B-shaped BF16 model against itself, 64 tokens",
        ours: [binary, "verify", sevenB, sevenB, "--random-tokens", "64", "--max-abs", "0", "--threads", threads], peer: nil)
    Paths.removeTree(sevenB)
}
