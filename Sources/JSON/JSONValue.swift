/// A JSON document as a Swift value.
///
/// This module is the only place that talks to json-c: parsing and
/// serialization convert between json-c objects and `JSONValue` inside a scope
/// that frees every C object before it returns.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// A number written without a fraction or exponent.
    case int(Int64)
    /// An integer above `Int64.max` (GGUF's uint64 values), kept exact.
    case uint(UInt64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)
}

/// A JSON object that keeps its members in document order.
///
/// Order matters to users: a config.json written back keeps the order it was
/// read in, so a diff shows only what changed.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)] = []
    private var positions: [MemberName: Int] = [:]

    /// A member name compared as JSON compares names, code point for code
    /// point. Swift's `String` equality would make canonically equivalent
    /// names one (U+09DF and U+09AF U+09BC): in a tokenizer's vocabulary those
    /// are two tokens.
    private struct MemberName: Hashable {
        let name: String

        init(_ name: String) { self.name = name }

        static func == (lhs: MemberName, rhs: MemberName) -> Bool { lhs.name.utf8.elementsEqual(rhs.name.utf8) }

        func hash(into hasher: inout Hasher) {
            for byte in name.utf8 { hasher.combine(byte) }
        }
    }

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public init<S: Sequence>(_ members: S) where S.Element == (String, JSONValue) {
        for (key, value) in members { self[key] = value }
    }

    public var count: Int { members.count }
    public var keys: [String] { members.map(\.key) }

    /// The value for `key`; assigning replaces it in place or appends it,
    /// assigning `nil` removes it.
    public subscript(key: String) -> JSONValue? {
        get { positions[MemberName(key)].map { members[$0].value } }
        set {
            if let index = positions[MemberName(key)] {
                if let newValue {
                    members[index].value = newValue
                } else {
                    members.remove(at: index)
                    positions = Dictionary(
                        uniqueKeysWithValues: members.enumerated().map { (MemberName($1.key), $0) })
                }
            } else if let newValue {
                positions[MemberName(key)] = members.count
                members.append((key, newValue))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key.utf8.elementsEqual($1.key.utf8) && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for (key, value) in members {
            for byte in key.utf8 { hasher.combine(byte) }
            hasher.combine(value)
        }
    }
}

extension JSONValue {
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let array) = self { return array }
        return nil
    }

    public var stringValue: String? {
        if case .string(let string) = self { return string }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let bool) = self { return bool }
        return nil
    }

    /// An integer, also from a double with no fractional part (`2.0`).
    public var intValue: Int64? {
        switch self {
        case .int(let value): return value
        case .double(let value) where value.rounded() == value && abs(value) < 9.0e18:
            return Int64(value)
        default: return nil
        }
    }

    /// A number of either kind as a double.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): return Double(value)
        case .uint(let value): return Double(value)
        case .double(let value): return value
        default: return nil
        }
    }

    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// A short name of the value's kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int, .uint, .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

/// A parsed JSON text with the byte offset of each member of its top-level
/// object (the offset of the key's opening quote; empty when the text is
/// not an object).
public struct JSONDocument: Sendable {
    public var value: JSONValue
    public var memberOffsets: [String: Int]
}
