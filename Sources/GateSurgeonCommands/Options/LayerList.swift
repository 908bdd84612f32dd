import ArgumentParser

/// Layer lists such as `0-11,20`, checked against the model later.
enum LayerList {
    /// The largest layer index a list may name; no model comes near it, and
    /// it keeps a range such as `0-9223372036854775806` from being expanded.
    static let maximumLayer = 1 << 20

    static func parse(_ text: String) throws -> Set<Int> {
        var layers = Set<Int>()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            guard bounds.count <= 2, let low = Int(bounds[0]), let high = bounds.count == 2 ? Int(bounds[1]) : low,
                low >= 0, low <= high
            else {
                throw ValidationError("'\(text)' is not a layer list such as 0-11,20")
            }
            guard high <= maximumLayer else { throw ValidationError("layer \(high) is out of range") }
            layers.formUnion(low...high)
        }
        return layers
    }
}
