import JSON

/// Typed reads of a parsed JSON document that fail with the file and the key.
struct JSONReader {
    let path: String

    func object(_ value: JSONValue?, _ key: String) throws(TokenizerError) -> JSONObject {
        guard let object = value?.objectValue else { throw mismatch(value, key, "an object") }
        return object
    }

    func array(_ value: JSONValue?, _ key: String) throws(TokenizerError) -> [JSONValue] {
        guard let array = value?.arrayValue else { throw mismatch(value, key, "an array") }
        return array
    }

    func string(_ value: JSONValue?, _ key: String) throws(TokenizerError) -> String {
        guard let string = value?.stringValue else { throw mismatch(value, key, "a string") }
        return string
    }

    func bool(_ value: JSONValue?, _ key: String, default fallback: Bool) throws(TokenizerError) -> Bool {
        guard let value, !value.isNull else { return fallback }
        guard let bool = value.boolValue else { throw mismatch(value, key, "true or false") }
        return bool
    }

    /// A non-negative integer below `limit`.
    func index(_ value: JSONValue?, _ key: String, below limit: Int = Int(Int32.max)) throws(TokenizerError) -> Int {
        guard let value, case .int(let number) = value else { throw mismatch(value, key, "an integer") }
        guard number >= 0 && number < limit else {
            throw .invalid(path: path, key: key, problem: "\(number) is out of range 0..<\(limit)")
        }
        return Int(number)
    }

    /// A string of exactly one character (`replacement`, `content` of Strip).
    func character(_ value: JSONValue?, _ key: String) throws(TokenizerError) -> UInt32 {
        let text = try string(value, key)
        guard text.unicodeScalars.count == 1 else {
            throw .invalid(path: path, key: key, problem: "expected one character, found \"\(text)\"")
        }
        return text.unicodeScalars.first!.value
    }

    func mismatch(_ value: JSONValue?, _ key: String, _ expected: String) -> TokenizerError {
        .invalid(path: path, key: key, problem: "expected \(expected), found \(value?.kindName ?? "nothing")")
    }

    func type(_ object: JSONObject, _ key: String) throws(TokenizerError) -> String {
        try string(object["type"], key + ".type")
    }

    func unsupported(_ what: String, _ type: String) -> TokenizerError {
        .unsupported(path: path, component: "\(what) type '\(type)'")
    }
}

extension HuggingFaceTokenizer {
    /// Token ids are below this (2^24; the largest vocabularies in use have about 2^18 tokens),
    /// so an id in a file cannot make the id tables huge.
    static let maximumID = 1 << 24

    /// Reads a `tokenizer.json` document.
    /// - Throws: `TokenizerError.unsupported` naming the component for anything not implemented
    ///   (WordPiece, Unigram, BPE dropout, UnicodeScripts, a regex feature...), `.invalid` for
    ///   values of the wrong type or range.
    init(document value: JSONValue, path: String) throws(TokenizerError) {
        let reader = JSONReader(path: path)
        let root = try reader.object(value, "(root)")
        if let version = root["version"], let text = version.stringValue, text != "1.0" {
            throw .invalid(path: path, key: "version", problem: "unknown tokenizer version \"\(text)\"")
        }
        self.path = path
        self.document = root
        model = try Self.readModel(root["model"], reader)
        normalizer = try root["normalizer"].flatMap { $0.isNull ? nil : $0 }.map { v throws(TokenizerError) in
            try Self.readNormalizer(v, "normalizer", reader)
        }
        preTokenizer = try root["pre_tokenizer"].flatMap { $0.isNull ? nil : $0 }.map { v throws(TokenizerError) in
            try Self.readPreTokenizer(v, "pre_tokenizer", reader)
        }
        decoder = try root["decoder"].flatMap { $0.isNull ? nil : $0 }.map { v throws(TokenizerError) in
            try Self.readDecoder(v, "decoder", reader)
        }
        var list: [AddedToken] = []
        if let tokens = root["added_tokens"], !tokens.isNull {
            for (i, entry) in try reader.array(tokens, "added_tokens").enumerated() {
                let key = "added_tokens[\(i)]"
                let object = try reader.object(entry, key)
                let special = try reader.bool(object["special"], key + ".special", default: false)
                list.append(AddedToken(
                    content: try reader.string(object["content"], key + ".content"),
                    id: try reader.index(object["id"], key + ".id", below: Self.maximumID),
                    special: special,
                    normalized: try reader.bool(object["normalized"], key + ".normalized", default: true),
                    singleWord: try reader.bool(object["single_word"], key + ".single_word", default: false),
                    leftStrip: try reader.bool(object["lstrip"], key + ".lstrip", default: false),
                    rightStrip: try reader.bool(object["rstrip"], key + ".rstrip", default: false)))
            }
        }
        let model = self.model
        do {
            added = try AddedVocabulary(list, modelSize: model.size, modelID: { model.vocabulary[TokenText($0)] }, normalizer: normalizer)
        } catch {
            // The normalizer runs on each added token's content.
            throw .invalid(path: path, key: "added_tokens", problem: "normalizing a token: \(error)")
        }
        let added = self.added
        postProcessor = try root["post_processor"].flatMap { $0.isNull ? nil : $0 }.map { v throws(TokenizerError) in
            try Self.readPostProcessor(v, "post_processor", reader) { name in added.ids[TokenText(name)] ?? model.vocabulary[TokenText(name)] }
        }
    }

    static func readModel(_ value: JSONValue?, _ reader: JSONReader) throws(TokenizerError) -> BPEModel {
        let object = try reader.object(value, "model")
        let type = object["type"]?.stringValue ?? (object["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else { throw reader.unsupported("model", type) }
        if let dropout = object["dropout"], !dropout.isNull {
            guard let p = dropout.doubleValue else { throw reader.mismatch(dropout, "model.dropout", "a number") }
            if p != 0 {
                throw .unsupported(path: reader.path, component: "model.dropout \(p) (random merges)")
            }
        }
        var vocabulary: [TokenText: Int] = [:]
        let vocabObject = try reader.object(object["vocab"], "model.vocab")
        vocabulary.reserveCapacity(vocabObject.count)
        for (token, id) in vocabObject {
            vocabulary[TokenText(token)] = try reader.index(id, "model.vocab[\"\(token)\"]", below: Self.maximumID)
        }
        var merges: [(String, String)] = []
        let mergeList = try reader.array(object["merges"], "model.merges")
        merges.reserveCapacity(mergeList.count)
        for (i, entry) in mergeList.enumerated() {
            let key = "model.merges[\(i)]"
            if let text = entry.stringValue {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw .invalid(path: reader.path, key: key, problem: "expected \"a b\", found \"\(text)\"") }
                merges.append((String(parts[0]), String(parts[1])))
            } else if let pair = entry.arrayValue, pair.count == 2 {
                merges.append((try reader.string(pair[0], key + "[0]"), try reader.string(pair[1], key + "[1]")))
            } else {
                throw reader.mismatch(entry, key, "a string or a pair of strings")
            }
        }
        func optionalString(_ name: String) throws(TokenizerError) -> String? {
            guard let v = object[name], !v.isNull else { return nil }
            return try reader.string(v, "model." + name)
        }
        var model = try BPEModel(vocabulary: vocabulary, merges: merges,
                                 continuingSubwordPrefix: try optionalString("continuing_subword_prefix"),
                                 endOfWordSuffix: try optionalString("end_of_word_suffix"), path: reader.path)
        model.unknownToken = try optionalString("unk_token")
        model.fuseUnknown = try reader.bool(object["fuse_unk"], "model.fuse_unk", default: false)
        model.byteFallback = try reader.bool(object["byte_fallback"], "model.byte_fallback", default: false)
        model.ignoreMerges = try reader.bool(object["ignore_merges"], "model.ignore_merges", default: false)
        if let unknown = model.unknownToken, model.vocabulary[TokenText(unknown)] == nil {
            throw .invalid(path: reader.path, key: "model.unk_token", problem: "\"\(unknown)\" is not in the vocabulary")
        }
        return model
    }

    static func readPattern(_ value: JSONValue?, _ key: String, _ reader: JSONReader) throws(TokenizerError) -> TextPattern {
        let object = try reader.object(value, key)
        if let literal = object["String"] {
            let text = try reader.string(literal, key + ".String")
            guard !text.isEmpty else { throw .invalid(path: reader.path, key: key + ".String", problem: "empty pattern") }
            return .literal(Array(scalarsOf: text))
        }
        let source = try reader.string(object["Regex"], key + ".Regex")
        do {
            return .regex(try ScalarRegex(source))
        } catch {
            throw .unsupported(path: reader.path, component: "\(key): \(error)")
        }
    }

    static func readNormalizer(_ value: JSONValue, _ key: String, _ reader: JSONReader) throws(TokenizerError) -> Normalizer {
        let object = try reader.object(value, key)
        let type = try reader.type(object, key)
        switch type {
        case "NFC": return .unicode(.nfc)
        case "NFD": return .unicode(.nfd)
        case "NFKC": return .unicode(.nfkc)
        case "NFKD": return .unicode(.nfkd)
        case "Lowercase": return .lowercase
        case "Prepend": return .prepend(Array(scalarsOf: try reader.string(object["prepend"], key + ".prepend")))
        case "Replace":
            return .replace(try readPattern(object["pattern"], key + ".pattern", reader),
                            with: Array(scalarsOf: try reader.string(object["content"], key + ".content")))
        case "Strip":
            return .strip(left: try reader.bool(object["strip_left"], key + ".strip_left", default: false),
                          right: try reader.bool(object["strip_right"], key + ".strip_right", default: false))
        case "Sequence":
            var items: [Normalizer] = []
            for (i, item) in try reader.array(object["normalizers"], key + ".normalizers").enumerated() {
                items.append(try readNormalizer(item, "\(key).normalizers[\(i)]", reader))
            }
            return .sequence(items)
        default:
            throw reader.unsupported(key, type)
        }
    }

    static func readBehavior(_ value: JSONValue?, _ key: String, _ reader: JSONReader, default fallback: SplitBehavior?) throws(TokenizerError) -> SplitBehavior {
        guard let value, !value.isNull else {
            guard let fallback else { throw reader.mismatch(value, key, "a split behaviour") }
            return fallback
        }
        let text = try reader.string(value, key)
        guard let behavior = SplitBehavior(rawValue: text) else {
            throw .invalid(path: reader.path, key: key, problem: "unknown behaviour \"\(text)\"")
        }
        return behavior
    }

    static func readPreTokenizer(_ value: JSONValue, _ key: String, _ reader: JSONReader) throws(TokenizerError) -> PreTokenizer {
        let object = try reader.object(value, key)
        let type = try reader.type(object, key)
        switch type {
        case "ByteLevel":
            return .byteLevel(addPrefixSpace: try reader.bool(object["add_prefix_space"], key + ".add_prefix_space", default: true),
                              useRegex: try reader.bool(object["use_regex"], key + ".use_regex", default: true))
        case "Split":
            guard let invert = object["invert"]?.boolValue else { throw reader.mismatch(object["invert"], key + ".invert", "true or false") }
            return .split(try readPattern(object["pattern"], key + ".pattern", reader),
                          try readBehavior(object["behavior"], key + ".behavior", reader, default: nil), invert: invert)
        case "Digits":
            return .digits(individual: try reader.bool(object["individual_digits"], key + ".individual_digits", default: false))
        case "Punctuation":
            return .punctuation(try readBehavior(object["behavior"], key + ".behavior", reader, default: .isolated))
        case "Whitespace":
            return .whitespace
        case "WhitespaceSplit":
            return .whitespaceSplit
        case "CharDelimiterSplit":
            return .charDelimiter(try reader.character(object["delimiter"], key + ".delimiter"))
        case "Metaspace":
            var scheme = PreTokenizer.PrependScheme.always
            if let value = object["prepend_scheme"], !value.isNull {
                let text = try reader.string(value, key + ".prepend_scheme")
                guard let parsed = PreTokenizer.PrependScheme(rawValue: text) else {
                    throw .invalid(path: reader.path, key: key + ".prepend_scheme", problem: "unknown scheme \"\(text)\"")
                }
                scheme = parsed
            }
            if object["add_prefix_space"]?.boolValue == false {
                guard scheme == .never || object["prepend_scheme"] == nil else {
                    throw .invalid(path: reader.path, key: key + ".add_prefix_space", problem: "false does not match prepend_scheme")
                }
                scheme = .never
            }
            return .metaspace(replacement: try reader.character(object["replacement"], key + ".replacement"),
                              prependScheme: scheme, split: try reader.bool(object["split"], key + ".split", default: true))
        case "Sequence":
            var items: [PreTokenizer] = []
            for (i, item) in try reader.array(object["pretokenizers"], key + ".pretokenizers").enumerated() {
                items.append(try readPreTokenizer(item, "\(key).pretokenizers[\(i)]", reader))
            }
            return .sequence(items)
        default:
            throw reader.unsupported(key, type)
        }
    }

    static func readDecoder(_ value: JSONValue, _ key: String, _ reader: JSONReader) throws(TokenizerError) -> TokenDecoder {
        let object = try reader.object(value, key)
        let type = try reader.type(object, key)
        switch type {
        case "ByteLevel": return .byteLevel
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Metaspace":
            var scheme = PreTokenizer.PrependScheme.always
            if let text = object["prepend_scheme"]?.stringValue, let parsed = PreTokenizer.PrependScheme(rawValue: text) { scheme = parsed }
            if object["add_prefix_space"]?.boolValue == false { scheme = .never }
            return .metaspace(replacement: try reader.character(object["replacement"], key + ".replacement"), prependScheme: scheme)
        case "Replace":
            return .replace(try readPattern(object["pattern"], key + ".pattern", reader),
                            with: Array(scalarsOf: try reader.string(object["content"], key + ".content")))
        case "Strip":
            return .strip(content: try reader.character(object["content"], key + ".content"),
                          start: try reader.index(object["start"], key + ".start"), stop: try reader.index(object["stop"], key + ".stop"))
        case "Sequence":
            var items: [TokenDecoder] = []
            for (i, item) in try reader.array(object["decoders"], key + ".decoders").enumerated() {
                items.append(try readDecoder(item, "\(key).decoders[\(i)]", reader))
            }
            return .sequence(items)
        default:
            throw reader.unsupported(key, type)
        }
    }

    static func readPostProcessor(_ value: JSONValue, _ key: String, _ reader: JSONReader,
                                  id: (String) -> Int?) throws(TokenizerError) -> PostProcessor {
        let object = try reader.object(value, key)
        let type = try reader.type(object, key)
        switch type {
        case "ByteLevel":
            return .byteLevel
        case "TemplateProcessing":
            let specials = object["special_tokens"]?.objectValue ?? JSONObject()
            var items: [PostProcessor.TemplateItem] = []
            for (i, entry) in try reader.array(object["single"], key + ".single").enumerated() {
                let itemKey = "\(key).single[\(i)]"
                let item = try reader.object(entry, itemKey)
                if let special = item["SpecialToken"] {
                    let name = try reader.string(try reader.object(special, itemKey + ".SpecialToken")["id"], itemKey + ".SpecialToken.id")
                    guard let definition = specials[name]?.objectValue else {
                        throw .invalid(path: reader.path, key: itemKey, problem: "special token \"\(name)\" is not in special_tokens")
                    }
                    var ids: [Int] = []
                    for (j, idValue) in try reader.array(definition["ids"], "\(key).special_tokens[\"\(name)\"].ids").enumerated() {
                        ids.append(try reader.index(idValue, "\(key).special_tokens[\"\(name)\"].ids[\(j)]"))
                    }
                    items.append(.special(ids))
                } else if let sequence = item["Sequence"] {
                    let name = try reader.string(try reader.object(sequence, itemKey + ".Sequence")["id"], itemKey + ".Sequence.id")
                    guard name == "A" else {
                        throw .invalid(path: reader.path, key: itemKey, problem: "a single-sequence template names sequence \"\(name)\"")
                    }
                    items.append(.sequence)
                } else {
                    throw reader.mismatch(entry, itemKey, "SpecialToken or Sequence")
                }
            }
            return .template(items)
        case "RobertaProcessing", "BertProcessing":
            func token(_ name: String) throws(TokenizerError) -> Int {
                let pair = try reader.array(object[name], "\(key).\(name)")
                guard pair.count == 2 else { throw reader.mismatch(object[name], "\(key).\(name)", "[token, id]") }
                return try reader.index(pair[1], "\(key).\(name)[1]")
            }
            return .wrap(first: try token("cls"), last: try token("sep"))
        case "Sequence":
            var items: [PostProcessor] = []
            for (i, item) in try reader.array(object["processors"], key + ".processors").enumerated() {
                items.append(try readPostProcessor(item, "\(key).processors[\(i)]", reader, id: id))
            }
            return .sequence(items)
        default:
            throw reader.unsupported(key, type)
        }
    }
}
