// Numerics: element conversion (F32, F16, BF16, F8 and integer types, bit-exact with torch),
// ggml's quantizers and dequantizers for every block type (byte-identical with
// ggml_quantize_chunk), and tensor statistics.
