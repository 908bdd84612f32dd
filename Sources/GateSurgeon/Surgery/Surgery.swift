// Surgery: changing a model. GateInsertion adds attention output gates in a family's layout
// (the paper's official code, Qwen3.5's fused q_proj, or separate gate tensors).
