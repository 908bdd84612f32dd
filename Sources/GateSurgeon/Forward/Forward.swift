// Forward: running a model. The reference F32 forward pass (dense and mixture-of-experts
// layers, every gate layout), its matrix kernels, the per-layer measurements of the paper,
// and Verification: two models on the same tokens, their logits compared.
