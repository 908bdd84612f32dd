// Formats: the bytes of checkpoint files. Safetensors (one file or a sharded directory) and
// GGUF are read into StoredTensors over memory-mapped data and written back exactly;
// Checkpoint is either format, Metadata their ordered key-value pairs. Nothing here knows
// what a model is: that is Graph/.
