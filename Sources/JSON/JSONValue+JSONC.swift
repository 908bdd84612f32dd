import CJSONC

/// Why a JSON text could not be read.
public struct JSONError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, in words.
    public var reason: String
    /// Byte offset in the parsed text where the problem was found, when known.
    public var offset: Int?

    public var description: String {
        if let offset { return "\(reason) at byte \(offset)" }
        return reason
    }
}

extension JSONValue {
    /// Nesting deeper than this is refused; checkpoint headers and configs
    /// nest a handful of levels.
    public static let maximumDepth: Int32 = 64

    /// Parses a complete JSON text (RFC 8259, UTF-8) with json-c's strict
    /// mode, plus what json-c lets through: raw control characters inside
    /// strings, lone surrogate escapes and keys containing U+0000 are errors
    /// (`JSONTextScanner`).
    ///
    /// - Parameter rejectingDuplicateKeys: when true, an object that names the
    ///   same key twice (compared after unescaping) is an error instead of
    ///   keeping the last value.
    /// - Complexity: O(n) in the length of the text.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, rejectingDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONValue {
        try parseDocument(bytes, rejectingDuplicateKeys: rejectingDuplicateKeys).value
    }

    /// Parses a complete JSON text as `parse` does, and also returns the byte
    /// offset of every member of the top-level object, so errors about a
    /// member (a tensor of a safetensors header) can say where it is.
    public static func parseDocument(
        _ bytes: UnsafeRawBufferPointer, rejectingDuplicateKeys: Bool = false
    ) throws(JSONError) -> JSONDocument {
        guard bytes.count <= Int(Int32.max) else {
            throw JSONError(reason: "JSON text of \(bytes.count) bytes is too large")
        }
        let scan = JSONTextScanner.scan(bytes, rejectingDuplicateKeys: rejectingDuplicateKeys)
        guard let tokener = json_tokener_new_ex(maximumDepth) else {
            throw JSONError(reason: "out of memory")
        }
        defer { json_tokener_free(tokener) }
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8)
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        // An empty text needs a valid pointer; json-c reports it as incomplete.
        var empty: CChar = 0
        let object = json_tokener_parse_ex(tokener, base ?? withUnsafeMutablePointer(to: &empty) { UnsafePointer($0) }, Int32(bytes.count))
        let status = json_tokener_get_error(tokener)
        let consumed = Int(json_tokener_get_parse_end(tokener))
        guard status == json_tokener_success, let object else {
            if let object { json_object_put(object) }
            let reason: String
            if status == json_tokener_continue {
                reason = "JSON text ends early"
            } else {
                reason = "invalid JSON (" + String(cString: json_tokener_error_desc(status)) + ")"
            }
            let error = JSONError(reason: reason, offset: min(consumed, bytes.count))
            // Report whichever problem comes first in the text.
            if case .failure(let scanError) = scan, let offset = scanError.offset, offset <= error.offset! { throw scanError }
            throw error
        }
        defer { json_object_put(object) }
        // Whitespace may pad a document (safetensors pads its header with
        // spaces to an 8-byte boundary); anything else after it may not.
        if let extra = bytes[consumed...].firstIndex(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) {
            throw JSONError(reason: "unexpected text after the JSON value", offset: extra)
        }
        let members: [String: Int]
        switch scan {
        case .failure(let error): throw error
        case .success(let result): members = result.memberOffsets
        }
        return JSONDocument(value: JSONValue(converting: object), memberOffsets: members)
    }

    /// Parses a JSON text held in a byte array.
    public static func parse(_ bytes: [UInt8], rejectingDuplicateKeys: Bool = false) throws(JSONError) -> JSONValue {
        do {
            return try bytes.withUnsafeBytes { buffer in
                try parse(buffer, rejectingDuplicateKeys: rejectingDuplicateKeys)
            }
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError(reason: "\(error)")
        }
    }

    /// Parses a JSON text held in a string.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private init(converting object: OpaquePointer) {
        switch json_object_get_type(object) {
        case json_type_null:
            self = .null
        case json_type_boolean:
            self = .bool(json_object_get_boolean(object) != 0)
        case json_type_int:
            // json-c keeps integers above Int64.max as uint64 and clamps
            // their int64 reading.
            let signed = json_object_get_int64(object)
            let unsigned = json_object_get_uint64(object)
            self = signed == .max && unsigned > UInt64(Int64.max) ? .uint(unsigned) : .int(signed)
        case json_type_double:
            self = .double(json_object_get_double(object))
        case json_type_string:
            let length = Int(json_object_get_string_len(object))
            let pointer = UnsafeRawPointer(json_object_get_string(object)!)
            self = .string(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
        case json_type_array:
            let count = json_object_array_length(object)
            var elements: [JSONValue] = []
            elements.reserveCapacity(count)
            for index in 0..<count {
                if let element = json_object_array_get_idx(object, index) {
                    elements.append(JSONValue(converting: element))
                } else {
                    elements.append(.null)
                }
            }
            self = .array(elements)
        case json_type_object:
            var members = JSONObject()
            var iterator = json_object_iter_begin(object)
            var end = json_object_iter_end(object)
            while json_object_iter_equal(&iterator, &end) == 0 {
                let key = String(cString: json_object_iter_peek_name(&iterator))
                if let value = json_object_iter_peek_value(&iterator) {
                    members[key] = JSONValue(converting: value)
                } else {
                    members[key] = .null
                }
                json_object_iter_next(&iterator)
            }
            self = .object(members)
        default:
            self = .null
        }
    }
}

extension JSONValue {
    /// How `serialized` lays out the text.
    public enum Layout: Sendable {
        /// No whitespace at all, as serde_json and the safetensors crate write.
        case compact
        /// Two-space indentation, `"key": value`, as Python's `json.dump(indent=2)`.
        case indented
    }

    /// The JSON text of this value, written by json-c.
    public func serialized(_ layout: Layout = .compact) -> String {
        let object = makeJSONC()
        defer { json_object_put(object) }
        var flags = JSON_C_TO_STRING_NOSLASHESCAPE
        if layout == .indented { flags |= JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED }
        var length = 0
        guard let text = json_object_to_json_string_length(object, flags, &length) else { return "null" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: length), as: UTF8.self)
    }

    /// Builds a json-c object; the caller owns the returned reference.
    private func makeJSONC() -> OpaquePointer? {
        switch self {
        case .null:
            return nil
        case .bool(let value):
            return json_object_new_boolean(value ? 1 : 0)
        case .int(let value):
            return json_object_new_int64(value)
        case .uint(let value):
            return json_object_new_uint64(value)
        case .double(let value):
            guard value.isFinite else { return nil }
            // Swift prints the shortest text that reads back to the same
            // double, as Python's repr does; json-c's default is %.17g.
            return json_object_new_double_s(value, Self.shortestText(value))
        case .string(let value):
            return value.withCString { pointer in
                // json-c lengths are Int32; a longer string goes by C string length.
                let length = value.utf8.count
                return length <= Int(Int32.max) ? json_object_new_string_len(pointer, Int32(length)) : json_object_new_string(pointer)
            }
        case .array(let elements):
            let array = json_object_new_array_ext(Int32(clamping: elements.count))
            for element in elements {
                json_object_array_add(array, element.makeJSONC())
            }
            return array
        case .object(let members):
            let object = json_object_new_object()
            for (key, value) in members {
                json_object_object_add(object, key, value.makeJSONC())
            }
            return object
        }
    }

    private static func shortestText(_ value: Double) -> String {
        if value.rounded() == value && abs(value) < 1e16 {
            return String(Int64(value)) + ".0"
        }
        return "\(value)"
    }
}
