// Quantization: what to quantize to, as llama-quantize decides it. Its presets (Q4_K_M and
// friends), the per-tensor rules of llama_tensor_get_type and their fallbacks, and importance
// matrices: llama-imatrix's files read and written, and computed with the forward pass.
