// Architectures: everything gatesurgeon knows about one model family, in one file per family:
// config rules, tensor names in both formats, the converter's GGUF keys, the Q/K permutation,
// RoPE, feed-forward and expert layout, and which gate layouts the family supports. Adding a
// family means adding a file here and its tests.
