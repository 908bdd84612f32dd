// gatesurgeon-bench: times gatesurgeon against the peer tools on a synthetic
// Llama-shaped checkpoint and prints wall time, peak memory and ratios.
//
//   swift build -c release
//   .build/release/gatesurgeon-bench --layers 8 --llama-cpp fixtures/.work/llama_cpp_python-0.3.36/vendor/llama.cpp \
//       --quantize fixtures/.work/build/bin/llama-quantize --python /path/to/venv/bin/python
//
// Each command runs as a child process; peak memory is the child's maximum
// resident set size from wait4(2).
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

func measure(_ arguments: [String]) -> Measurement? {
    var pid: pid_t = 0
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
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
func makeModel(_ options: Options, at directory: String) throws {
    mkdir(directory, 0o755)
    let (D, F, V, L) = (options.hidden, options.intermediate, options.vocab, options.layers)
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
mkdir(work, 0o755)
let model = Paths.join(work, "model")
if !Paths.exists(Paths.join(model, "model.safetensors")) {
    print("making a synthetic checkpoint in \(model)...")
    try makeModel(options, at: model)
}
let size = (try? MappedFile(path: Paths.join(model, "model.safetensors")).size) ?? 0
print("model: \(options.layers) layers, hidden \(options.hidden), \(size >> 20) MiB of BF16 weights")
print("")

@MainActor func run(_ label: String, ours: [String], peer: [String]?) {
    for path in ["ours", "ours.gguf", "peer.gguf"] { Paths.removeTree(Paths.join(work, path)) }
    if label.hasPrefix("verify") && !Paths.exists(Paths.join(work, "gated")) {
        _ = measure([binary, "add-gate", Paths.join(work, "model"), Paths.join(work, "gated")])
    }
    let mine = measure(ours)
    let theirs = peer.flatMap { measure($0) }
    var ratio = ""
    if let mine, let theirs {
        let time = ((theirs.seconds / mine.seconds) * 10).rounded() / 10
        let memory = ((Double(theirs.peakBytes) / Double(max(1, mine.peakBytes))) * 10).rounded() / 10
        ratio = "\n  peer/gatesurgeon: time \(time)x, peak memory \(memory)x"
    }
    print("\(label)\n  gatesurgeon: \(format(mine))\n  peer:        \(format(theirs))\(ratio)")
}

let converter = options.llamaCpp.map { Paths.join($0, "convert_hf_to_gguf.py") }
run("safetensors -> GGUF F16 (peer: convert_hf_to_gguf.py --outtype f16)",
    ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--dtype", "f16", "--force"],
    peer: converter.map { [options.python, $0, model, "--outtype", "f16", "--outfile", Paths.join(work, "peer.gguf")] })
let f16 = Paths.join(work, "input-f16.gguf")
_ = measure([binary, "convert", model, f16, "--dtype", "f16", "--force"])
run("safetensors -> GGUF Q8_0 (peer: convert_hf_to_gguf.py --outtype q8_0)",
    ours: [binary, "convert", model, Paths.join(work, "ours.gguf"), "--quant", "q8_0", "--force"],
    peer: converter.map { [options.python, $0, model, "--outtype", "q8_0", "--outfile", Paths.join(work, "peer.gguf")] })
for (type, name) in [("q4_0", "Q4_0"), ("q4_k", "Q4_K"), ("q6_k", "Q6_K")] {
    run("GGUF F16 -> \(name) (peer: llama-quantize --pure)",
        ours: [binary, "convert", f16, Paths.join(work, "ours.gguf"), "--quant", type, "--force"],
        peer: options.quantize.map { [$0, "--pure", f16, Paths.join(work, "peer.gguf"), name] })
}
run("add-gate (no peer tool can)", ours: [binary, "add-gate", model, Paths.join(work, "ours"), "--force"], peer: nil)
let tokens = (0..<32).map { String(($0 * 7919 + 13) % options.vocab) }.joined(separator: ",")
run("forward pass, 32 tokens, BF16 weights (no peer here)", ours: [binary, "forward", model, "--tokens", tokens], peer: nil)
run("verify model against its gated copy, 32 tokens each", ours: [binary, "verify", model, Paths.join(work, "gated"), "--max-abs", "0"], peer: nil)
