import GateSurgeon
import JSON

/// Small models and broken files made on the fly for the forward/verify tests.
enum SyntheticModels {
    static func temporaryDirectory() -> String { Fixtures.temporaryDirectory() }

    static func remove(_ directory: String) { Fixtures.remove(directory) }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let file = try OutputFile(creating: path)
        try file.write(bytes)
        try file.close()
    }

    /// A random F32 Llama model (config.json + model.safetensors) in `directory`;
    /// `extraConfig` adds keys to config.json (token ids of a tokenizer).
    static func writeLlama(
        to directory: String, vocab: Int = 64, hidden: Int = 16, intermediate: Int = 32, layers: Int = 1,
        heads: Int = 2, kvHeads: Int = 1, seed: UInt64 = 1, extraConfig: JSONObject = [:]
    ) throws {
        let headDim = hidden / heads
        var config: JSONObject = [
            "architectures": .array([.string("LlamaForCausalLM")]), "model_type": .string("llama"),
            "hidden_size": .int(Int64(hidden)), "intermediate_size": .int(Int64(intermediate)),
            "num_hidden_layers": .int(Int64(layers)), "num_attention_heads": .int(Int64(heads)),
            "num_key_value_heads": .int(Int64(kvHeads)), "head_dim": .int(Int64(headDim)),
            "vocab_size": .int(Int64(vocab)), "rms_norm_eps": .double(1e-6), "rope_theta": .double(10000),
            "tie_word_embeddings": .bool(false),
        ]
        for (key, value) in extraConfig { config[key] = value }
        try writeFile(Paths.join(directory, "config.json"), Array(JSONValue.object(config).serialized(.indented).utf8))
        var state = seed
        func random(_ count: Int, std: Float, offset: Float = 0) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return offset + std * (Float(state >> 40) / Float(1 << 24) - 0.5) * 3.46
            }
        }
        var tensors: [OutputTensor] = [
            .floats(random(vocab * hidden, std: 1), name: "model.embed_tokens.weight", shape: [vocab, hidden]),
            .floats(random(hidden, std: 0.1, offset: 1), name: "model.norm.weight", shape: [hidden]),
            .floats(random(vocab * hidden, std: 0.2), name: "lm_head.weight", shape: [vocab, hidden]),
        ]
        let std = 1 / Float(hidden).squareRoot()
        for layer in 0..<layers {
            let p = "model.layers.\(layer)."
            tensors += [
                .floats(random(hidden, std: 0.1, offset: 1), name: p + "input_layernorm.weight", shape: [hidden]),
                .floats(random(hidden, std: 0.1, offset: 1), name: p + "post_attention_layernorm.weight", shape: [hidden]),
                .floats(random(heads * headDim * hidden, std: std), name: p + "self_attn.q_proj.weight", shape: [heads * headDim, hidden]),
                .floats(random(kvHeads * headDim * hidden, std: std), name: p + "self_attn.k_proj.weight", shape: [kvHeads * headDim, hidden]),
                .floats(random(kvHeads * headDim * hidden, std: std), name: p + "self_attn.v_proj.weight", shape: [kvHeads * headDim, hidden]),
                .floats(random(hidden * heads * headDim, std: std), name: p + "self_attn.o_proj.weight", shape: [hidden, heads * headDim]),
                .floats(random(intermediate * hidden, std: std), name: p + "mlp.gate_proj.weight", shape: [intermediate, hidden]),
                .floats(random(intermediate * hidden, std: std), name: p + "mlp.up_proj.weight", shape: [intermediate, hidden]),
                .floats(random(hidden * intermediate, std: 1 / Float(intermediate).squareRoot()), name: p + "mlp.down_proj.weight", shape: [hidden, intermediate]),
            ]
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: Paths.join(directory, "model.safetensors"))
    }
}
