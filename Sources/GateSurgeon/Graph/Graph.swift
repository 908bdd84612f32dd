// Graph: what a checkpoint means. ModelConfig (validated hyperparameters from config.json or
// GGUF metadata), ModelGraph (the model's tensors named the transformers way, whatever the
// format), lazy TensorExpressions that produce tensor values on demand, and the gate layouts'
// row order. Architectures/ holds one file per model family.
