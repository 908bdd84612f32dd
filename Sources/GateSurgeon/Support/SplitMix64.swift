/// SplitMix64 (Steele, Lea and Flood, 2014): the seeded generator behind
/// every reproducible random value gatesurgeon makes (gate inits, random
/// verification tokens). Any stream can start anywhere, so results do not
/// depend on chunking or threads.
struct SplitMix64 {
    var state: UInt64

    init(state: UInt64) { self.state = state }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (Lemire's multiply-high, without rejection:
    /// the bias is below bound / 2^64).
    mutating func next(below bound: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
