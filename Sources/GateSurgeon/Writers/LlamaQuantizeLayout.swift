/// How llama-quantize lays out the GGUF files it writes, where gatesurgeon
/// does its job (GGUF to GGUF: quantizing, requantizing, casting): tensors
/// in llama.cpp's model-loader order, shapes as ggml counts dimensions, and
/// the keys it sets moved to the end of the metadata (`GGUFMetadataBuilder`).
/// safetensors to GGUF is the converter's job, also when quantizing (as its
/// `--outtype q8_0` does): the converter's order, shapes and keys.
enum LlamaQuantizeLayout {

    /// `plan` in the order of llama.cpp's `weights_map`, which llama-quantize
    /// walks: tensors outside the layers first, then layer by layer, by name
    /// (bytes) within each (`llama_model_loader::weight_name_comparer`).
    static func ordered(_ plan: [PlannedTensor]) -> [PlannedTensor] {
        plan.map { (layer: layer(of: $0.outputName), name: $0.outputName, item: $0) }
            .sorted { $0.layer != $1.layer ? $0.layer < $1.layer : $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
            .map(\.item)
    }

    /// The layer `sscanf(name, "blk.%d.", &layer)` reads, or -1.
    static func layer(of name: String) -> Int {
        guard name.hasPrefix("blk.") else { return -1 }
        var digits = name.utf8.dropFirst(4)
        var sign = 1
        if let first = digits.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            sign = first == UInt8(ascii: "-") ? -1 : 1
            digits = digits.dropFirst()
        }
        var value = 0
        var any = false
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = min(value * 10 + Int(byte - UInt8(ascii: "0")), Int(Int32.max))
            any = true
        }
        return any ? sign * value : -1
    }

    /// A shape as ggml records it: outer sizes of 1 dropped (`[1, n]` is `[n]`).
    static func ggmlShape(_ shape: [Int]) -> [Int] {
        let trimmed = Array(shape.drop { $0 == 1 })
        return trimmed.isEmpty ? [1] : trimmed
    }
}
