// Support: small tools the rest shares: SHA-256, the one parallel loop (with a worker limit),
// SplitMix64, a binary heap.
