import JSON

/// Typed, path-stamped access to a model's hyperparameters, in a
/// transformers config.json or under a GGUF file's architecture prefix.
///
/// Both formats are read through the same calls, so every range check is
/// written once; every error names the file and the key as that file
/// spells it (`text_config.rope_parameters.factor`, `gemma2.rope.freq_base`).
/// A multimodal wrapper's `text_config` is resolved once, here.
public struct HyperparameterReader: Sendable {
    enum Storage: Sendable {
        case json(JSONObject)
        case gguf(Metadata<GGUFValue>)
    }

    let storage: Storage
    /// The file the values come from, for messages.
    public let path: String
    /// What every key is prefixed with in the file (`text_config.`, `llama.`).
    public let keyPrefix: String

    /// A config.json; its `text_config` when the root describes a wrapper
    /// (no `hidden_size` of its own).
    public init(json root: JSONObject, path: String) {
        if case .object(let text)? = root["text_config"], root["hidden_size"] == nil {
            self.init(storage: .json(text), path: path, keyPrefix: "text_config.")
        } else {
            self.init(storage: .json(root), path: path, keyPrefix: "")
        }
    }

    /// A GGUF file's keys under `architecture.`.
    public init(gguf metadata: Metadata<GGUFValue>, path: String, architecture: String) {
        self.init(storage: .gguf(metadata), path: path, keyPrefix: architecture + ".")
    }

    init(storage: Storage, path: String, keyPrefix: String) {
        self.storage = storage
        self.path = path
        self.keyPrefix = keyPrefix
    }

    /// The JSON object the keys are read from (config.json only).
    public var object: JSONObject? {
        if case .json(let object) = storage { return object }
        return nil
    }

    /// The key as the file spells it, for messages.
    public func spelled(_ key: String) -> String { keyPrefix + key }

    func failure(_ key: String, _ problem: String) -> ModelError {
        .invalidConfig(path: path, key: spelled(key), problem: problem)
    }

    enum Value {
        case json(JSONValue)
        case gguf(GGUFValue)

        var intValue: Int64? {
            switch self {
            case .json(let value): value.intValue
            case .gguf(let value): value.intValue.map { Int64($0) }
            }
        }

        var doubleValue: Double? {
            switch self {
            case .json(let value): value.doubleValue
            case .gguf(let value): value.doubleValue
            }
        }

        var boolValue: Bool? {
            switch self {
            case .json(let value): value.boolValue
            case .gguf(let value): if case .bool(let flag) = value { flag } else { nil }
            }
        }

        var stringValue: String? {
            switch self {
            case .json(let value): value.stringValue
            case .gguf(let value): value.stringValue
            }
        }

        /// The elements of an array value.
        var elements: [Value]? {
            switch self {
            case .json(let value): value.arrayValue?.map { .json($0) }
            case .gguf(let value): value.arrayValues?.map { .gguf($0) }
            }
        }

        var kindName: String {
            switch self {
            case .json(let value): value.kindName
            case .gguf(let value): value.type.name
            }
        }
    }

    /// The value of `key`; nil when absent or JSON null.
    func value(_ key: String) -> Value? {
        switch storage {
        case .json(let object):
            guard let value = object[key], !value.isNull else { return nil }
            return .json(value)
        case .gguf(let metadata):
            return metadata[keyPrefix + key].map { .gguf($0) }
        }
    }

    /// Whether `key` is present (and not null).
    public func has(_ key: String) -> Bool { value(key) != nil }

    /// A positive integer far from overflow (sizes, counts).
    public func int(_ key: String) throws(ModelError) -> Int {
        guard let value = try optionalInt(key) else { throw failure(key, "missing or not an integer") }
        return value
    }

    /// A positive integer far from overflow, or nil when absent.
    public func optionalInt(_ key: String) throws(ModelError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.intValue else { throw failure(key, "not an integer") }
        guard number > 0 && number <= 1 << 40 else { throw failure(key, "\(number) is out of range") }
        return Int(number)
    }

    /// An integer of any sign within `range`, or nil when absent.
    public func optionalInt(_ key: String, in range: ClosedRange<Int>) throws(ModelError) -> Int? {
        guard let value = value(key) else { return nil }
        guard let number = value.intValue, let exact = Int(exactly: number), range.contains(exact) else {
            throw failure(key, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return exact
    }

    /// A finite number, or nil when absent.
    public func optionalDouble(_ key: String) throws(ModelError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw failure(key, "not a finite number") }
        return number
    }

    /// A finite number.
    public func double(_ key: String) throws(ModelError) -> Double {
        guard let number = try optionalDouble(key) else { throw failure(key, "missing or not a number") }
        return number
    }

    /// A boolean, or nil when absent.
    public func optionalBool(_ key: String) throws(ModelError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.boolValue else { throw failure(key, "expected true or false, found \(value.kindName)") }
        return flag
    }

    /// A string, or nil when absent.
    public func optionalString(_ key: String) throws(ModelError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.stringValue else { throw failure(key, "expected a string, found \(value.kindName)") }
        return text
    }

    /// An array of finite numbers of at most `maxCount` elements, or nil when absent.
    public func optionalDoubles(_ key: String, maxCount: Int) throws(ModelError) -> [Double]? {
        guard let value = value(key) else { return nil }
        guard let elements = value.elements, elements.count <= maxCount else {
            throw failure(key, "expected an array of at most \(maxCount) numbers")
        }
        var numbers: [Double] = []
        numbers.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let number = element.doubleValue, number.isFinite else { throw failure(key, "element \(index) is not a finite number") }
            numbers.append(number)
        }
        return numbers
    }

    /// An array of integers in `range`, of at most `maxCount` elements, or nil when absent.
    public func optionalInts(_ key: String, in range: ClosedRange<Int>, maxCount: Int) throws(ModelError) -> [Int]? {
        guard let numbers = try optionalDoubles(key, maxCount: maxCount) else { return nil }
        var result: [Int] = []
        for (index, number) in numbers.enumerated() {
            guard number.rounded() == number, let exact = Int(exactly: number), range.contains(exact) else {
                throw failure(key, "element \(index) is not an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            result.append(exact)
        }
        return result
    }

    /// An array of strings of at most `maxCount` elements, or nil when absent.
    public func optionalStrings(_ key: String, maxCount: Int) throws(ModelError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let elements = value.elements, elements.count <= maxCount else {
            throw failure(key, "expected an array of at most \(maxCount) strings")
        }
        var strings: [String] = []
        for (index, element) in elements.enumerated() {
            guard let text = element.stringValue else { throw failure(key, "element \(index) is not a string") }
            strings.append(text)
        }
        return strings
    }

    /// An array of booleans of at most `maxCount` elements, or nil when absent.
    public func optionalBools(_ key: String, maxCount: Int) throws(ModelError) -> [Bool]? {
        guard let value = value(key) else { return nil }
        guard let elements = value.elements, elements.count <= maxCount else {
            throw failure(key, "expected an array of at most \(maxCount) booleans")
        }
        var flags: [Bool] = []
        for (index, element) in elements.enumerated() {
            guard let flag = element.boolValue else { throw failure(key, "element \(index) is not a boolean") }
            flags.append(flag)
        }
        return flags
    }

    /// The nested object `key` (config.json only), read with the same
    /// checks; nil when absent. A non-object value is an error.
    public func nested(_ key: String) throws(ModelError) -> HyperparameterReader? {
        guard case .json(let object) = storage, let value = object[key], !value.isNull else { return nil }
        guard case .object(let inner) = value else { throw failure(key, "expected an object, found \(value.kindName)") }
        return HyperparameterReader(storage: .json(inner), path: path, keyPrefix: keyPrefix + key + ".")
    }

    /// The first of `keys` that is present, for settings transformers
    /// versions spell differently.
    public func firstPresent(_ keys: [String]) -> String? { keys.first { has($0) } }
}
