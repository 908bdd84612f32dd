/// Metadata entries in file order with lookup by key: a GGUF file's
/// key-value pairs, a safetensors file's `__metadata__`. Order matters: a
/// file written back keeps the order it was read in, as llama.cpp's tools
/// and the safetensors crate do, so a diff shows only what changed.
public struct Metadata<Value: Sendable>: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: Value)] = []
    private var positions: [String: Int] = [:]

    public init() {}

    /// Entries in order; a repeated key keeps its first position and last value.
    public init<S: Sequence>(_ entries: S) where S.Element == (key: String, value: Value) {
        for (key, value) in entries { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, Value)...) {
        for (key, value) in elements { self[key] = value }
    }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }
    public var keys: [String] { entries.map(\.key) }

    /// The value for `key`; assigning replaces it in place or appends it,
    /// assigning nil removes it.
    /// - Complexity: O(1) to read and to replace; O(count) to remove.
    public subscript(key: String) -> Value? {
        get { positions[key].map { entries[$0].value } }
        set {
            if let index = positions[key] {
                if let newValue {
                    entries[index].value = newValue
                } else {
                    entries.remove(at: index)
                    reindex()
                }
            } else if let newValue {
                positions[key] = entries.count
                entries.append((key, newValue))
            }
        }
    }

    /// Sets `key`, inserting a new key just before `successor` when that is
    /// present (llama.cpp keeps `general.quantization_version` last).
    public mutating func set(_ key: String, _ value: Value, before successor: String) {
        if positions[key] != nil || positions[successor] == nil {
            self[key] = value
            return
        }
        entries.insert((key, value), at: positions[successor]!)
        reindex()
    }

    /// Removes every entry `shouldRemove` selects.
    public mutating func removeAll(where shouldRemove: ((key: String, value: Value)) -> Bool) {
        entries.removeAll(where: shouldRemove)
        reindex()
    }

    /// Appends `other`'s entries, replacing values of keys already present.
    public mutating func merge(_ other: Metadata<Value>) {
        for (key, value) in other { self[key] = value }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: Value)]> { entries.makeIterator() }

    private mutating func reindex() {
        positions = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
    }
}

extension Metadata: Equatable where Value: Equatable {
    public static func == (a: Metadata, b: Metadata) -> Bool {
        a.entries.count == b.entries.count && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
