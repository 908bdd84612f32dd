import JSON

/// gguf-py's `SpecialVocab` (gguf-py/gguf/vocab.py of the llama-cpp-python 0.3.36 sdist): the
/// merges, special token ids, add-token flags, chat template and normalizer flags it reads from
/// tokenizer.json, tokenizer_config.json, chat_template.jinja/.json and config.json, written in
/// its `add_to_gguf` order.
struct SpecialVocabulary {
    var merges: [String] = []
    var ids: [(String, Int)] = []
    var addFlags: [(String, Bool)] = []
    var chatTemplate: JSONValue?
    var normalizerLowercase: Bool?
    var normalizerStripAccents: Bool?
    var types: [String]
    let nVocab: Int?
    let loadMerges: Bool

    init(directory: String, loadMerges: Bool = false, nVocab: Int? = nil,
         types: [String] = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"]) throws {
        self.loadMerges = loadMerges
        self.nVocab = nVocab
        self.types = types
        try loadTokenizerJSON(directory)
        try loadConfigJSON(directory)
        if loadMerges && merges.isEmpty { try loadMergesText(directory) }
    }

    /// Python truthiness of a JSON value.
    static func truthy(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?: return false
        case .bool(let b)?: return b
        case .int(let i)?: return i != 0
        case .uint(let u)?: return u != 0
        case .double(let d)?: return d != 0
        case .string(let s)?: return !s.isEmpty
        case .array(let a)?: return !a.isEmpty
        case .object(let o)?: return o.count > 0
        }
    }

    static func readJSON(_ path: String) throws -> JSONValue? {
        guard Paths.exists(path) else { return nil }
        do {
            return try JSONValue.parse(try Paths.readFile(path))
        } catch let error as JSONError {
            throw TokenizerError.unreadable(path: path, problem: error.description)
        }
    }

    mutating func setID(_ type: String, _ value: JSONValue?) throws {
        // only integers count (`isinstance(tid, int)`), first setting wins, in range of n_vocab
        guard case .int(let id)? = value else {
            if case .bool(let b)? = value { try setID(type, .int(b ? 1 : 0)) }
            return
        }
        guard id >= 0 else {
            throw TokenizerError.invalid(path: "tokenizer_config.json", key: "\(type)_token", problem: "negative id \(id)")
        }
        if let nVocab, id >= nVocab { return }
        if ids.contains(where: { $0.0 == type }) { return }
        ids.append((type, Int(id)))
    }

    mutating func setFlag(_ type: String, _ value: Bool, onlyIfUnset: Bool) {
        if let index = addFlags.firstIndex(where: { $0.0 == type }) {
            if !onlyIfUnset { addFlags[index].1 = value }
        } else {
            addFlags.append((type, value))
        }
    }

    func flag(_ type: String) -> Bool? { addFlags.first { $0.0 == type }?.1 }

    mutating func parseNormalizer(_ normalizer: JSONObject) {
        switch normalizer["type"]?.stringValue {
        case "Lowercase": normalizerLowercase = true
        case "StripAccents": normalizerStripAccents = true
        case "BertNormalizer":
            if let v = normalizer["lowercase"]?.boolValue { normalizerLowercase = v }
            if let v = normalizer["strip_accents"]?.boolValue { normalizerStripAccents = v }
        case "Sequence":
            for item in normalizer["normalizers"]?.arrayValue ?? [] {
                if let object = item.objectValue { parseNormalizer(object) }
            }
        default: break
        }
    }

    private mutating func loadTokenizerJSON(_ directory: String) throws {
        let tokenizerPath = Paths.join(directory, "tokenizer.json")
        let tokenizer = try Self.readJSON(tokenizerPath)?.objectValue
        var addedTokens: [JSONValue] = []
        if let tokenizer {
            if loadMerges, let list = tokenizer["model"]?["merges"]?.arrayValue, let first = list.first {
                if first.stringValue != nil {
                    merges = list.map { $0.stringValue ?? "" }
                } else if let pair = first.arrayValue, pair.count == 2, pair[0].stringValue != nil {
                    merges = list.map { entry in
                        (entry.arrayValue ?? []).map { part in
                            String(String.UnicodeScalarView((part.stringValue ?? "").unicodeScalars.map {
                                $0 == " " ? Unicode.Scalar(0x20 + 256)! : $0
                            }))
                        }.joined(separator: " ")
                    }
                } else {
                    throw TokenizerError.invalid(path: tokenizerPath, key: "model.merges", problem: "unknown tokenizer merges format")
                }
            }
            if let normalizer = tokenizer["normalizer"], Self.truthy(normalizer), let object = normalizer.objectValue {
                parseNormalizer(object)
            }
            addedTokens = tokenizer["added_tokens"]?.arrayValue ?? []
        }
        var config = try Self.readJSON(Paths.join(directory, "tokenizer_config.json"))?.objectValue
        if let tokenizer {
            var bos = config?["bos_token"]
            var cls = config?["cls_token"]
            var eos = config?["eos_token"]
            let sep = config?["sep_token"]
            if !Self.truthy(bos) && Self.truthy(cls) && Self.truthy(config.map(JSONValue.object)) {
                config?["bos_token"] = cls
                bos = cls
            }
            if !Self.truthy(eos) && Self.truthy(sep) && Self.truthy(config.map(JSONValue.object)) {
                config?["eos_token"] = sep
                eos = sep
            }
            let hasConfig = Self.truthy(config.map(JSONValue.object))
            if let post = tokenizer["post_processor"], Self.truthy(post), let postObject = post.objectValue {
                let processors = postObject["processors"]?.arrayValue ?? [post]
                for processor in processors {
                    let type = processor["type"]?.stringValue
                    if type == "ByteLevel" {
                        setFlag("bos", false, onlyIfUnset: true)
                        setFlag("eos", false, onlyIfUnset: true)
                    } else if type == "RobertaProcessing" {
                        setFlag("bos", true, onlyIfUnset: false)
                        setFlag("eos", true, onlyIfUnset: false)
                        setFlag("sep", true, onlyIfUnset: false)
                        if !Self.truthy(cls) && hasConfig {
                            cls = processor["cls"]?.arrayValue?.first ?? bos
                            config?["cls_token"] = cls
                        }
                        if !Self.truthy(sep) && hasConfig {
                            config?["sep_token"] = processor["sep"]?.arrayValue?.first ?? eos
                        }
                    } else if type == "TemplateProcessing" {
                        let single = processor["single"]?.arrayValue ?? []
                        var pair = processor["pair"]?.arrayValue ?? []
                        var first: JSONValue? = nil
                        var last: JSONValue? = nil
                        if single.count > 1 {
                            first = single[0]["SpecialToken"]?["id"]
                            if Self.truthy(first) {
                                if !hasConfig {
                                    bos = first
                                } else if first != bos && first != cls {
                                    if !Self.truthy(bos) { config?["bos_token"] = first; bos = first }
                                    if !Self.truthy(cls) { config?["cls_token"] = first; cls = first }
                                }
                                setFlag("bos", first == bos || first == cls, onlyIfUnset: false)
                            }
                            last = single[single.count - 1]["SpecialToken"]?["id"]
                            if Self.truthy(last) {
                                if !hasConfig {
                                    eos = last
                                } else if last != eos {
                                    if !types.contains("eot") {
                                        types.append("eot")
                                        config?["eot_token"] = eos
                                    } else if !types.contains("eom") {
                                        types.append("eom")
                                        config?["eom_token"] = eos
                                    }
                                    config?["eos_token"] = last
                                    eos = last
                                }
                                setFlag("eos", last == eos, onlyIfUnset: false)
                            }
                        }
                        if !pair.isEmpty {
                            let start = Self.truthy(first) && pair[0]["SpecialToken"]?["id"] == first ? 1 : 0
                            let stop = Self.truthy(last) && pair[pair.count - 1]["SpecialToken"]?["id"] == last ? pair.count - 1 : pair.count
                            pair = start <= stop ? Array(pair[start..<stop]) : []
                            if !pair.isEmpty {
                                let a = pair[0]["Sequence"]?["id"]
                                let b = pair[pair.count - 1]["Sequence"]?["id"]
                                if a == .string("A") && b == .string("B") {
                                    let middle = Array(pair.dropFirst().dropLast())
                                    if !middle.isEmpty {
                                        var addSeparator = false
                                        let sepNow = config?["sep_token"]
                                        if let entry = middle[0]["SpecialToken"]?["id"], Self.truthy(entry) {
                                            if (entry == sepNow || entry == eos) && !Self.truthy(last) { addSeparator = true }
                                        }
                                        if middle.count == 2, let entry = middle[1]["SpecialToken"]?["id"], Self.truthy(entry) {
                                            if entry == sepNow || entry == eos { addSeparator = true }
                                        }
                                        setFlag("sep", addSeparator, onlyIfUnset: false)
                                        if addSeparator && !Self.truthy(sepNow) && hasConfig { config?["sep_token"] = eos }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        guard let config, config.count > 0 else { return }
        var alternative: JSONValue? = nil
        let jinja = Paths.join(directory, "chat_template.jinja")
        let templatesJSON = Paths.join(directory, "chat_template.json")
        if Paths.exists(jinja) {
            alternative = .string(String(decoding: try Paths.readFile(jinja), as: UTF8.self))
        } else if Paths.exists(templatesJSON) {
            alternative = try Self.readJSON(templatesJSON)?["chat_template"]
        }
        let template = config.keys.contains("chat_template") ? config["chat_template"] : alternative
        switch template {
        case nil, .null?: chatTemplate = nil
        case .string?, .array?: chatTemplate = template
        default: break
        }
        for type in types {
            if let flag = config["add_\(type)_token"]?.boolValue { setFlag(type, flag, onlyIfUnset: true) }
            let content: String
            switch config["\(type)_token"] {
            case .string(let s)?: content = s
            case .object(let o)?:
                guard let s = o["content"]?.stringValue else { continue }
                content = s
            default: continue
            }
            let match = addedTokens.first { $0["content"]?.stringValue == content }
            try setID(type, match?["id"])
        }
    }

    private mutating func loadConfigJSON(_ directory: String) throws {
        guard let config = try Self.readJSON(Paths.join(directory, "config.json"))?.objectValue else { return }
        for type in types {
            var value = config["\(type)_token_id"]
            if value == nil || value == .null { value = config["text_config"]?["\(type)_token_id"] }
            try setID(type, value)
        }
    }

    private mutating func loadMergesText(_ directory: String) throws {
        let path = Paths.join(directory, "merges.txt")
        guard Paths.exists(path) else { return }
        var lines = String(decoding: try Paths.readFile(path), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        if let first = lines.first, first.trimmingWhitespace().hasPrefix("#") { lines.removeFirst() }
        var result: [String] = []
        for line in lines {
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            let parts = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2 else { continue }
            result.append("\(parts[0]) \(parts[1])")
        }
        merges = result
    }

    /// `SpecialVocab.add_to_gguf`: merges, ids, add flags, chat template, normalizer flags.
    func add(to keys: inout Metadata<GGUFValue>) {
        if !merges.isEmpty { keys["tokenizer.ggml.merges"] = .array(elementType: .string, values: merges.map { .string($0) }) }
        let idKeys = ["bos": "bos_token_id", "eos": "eos_token_id", "unk": "unknown_token_id", "sep": "seperator_token_id",
                      "pad": "padding_token_id", "mask": "mask_token_id", "eot": "eot_token_id", "eom": "eom_token_id"]
        for (type, id) in ids {
            guard let key = idKeys[type] else { continue }  // no handler (cls): skipped with a warning
            keys["tokenizer.ggml.\(key)"] = .uint32(UInt32(truncatingIfNeeded: id))
        }
        for (type, value) in addFlags where ["bos", "eos", "sep"].contains(type) {
            keys["tokenizer.ggml.add_\(type)_token"] = .bool(value)
        }
        switch chatTemplate {
        case .string(let text)?:
            keys["tokenizer.chat_template"] = .string(text)
        case .array(let choices)?:
            var defaultTemplate: String? = nil
            var names: [String] = []
            for choice in choices {
                let rawName = choice["name"]?.stringValue ?? ""
                let name = String(rawName.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
                guard !name.isEmpty, let template = choice["template"]?.stringValue else { continue }
                if name == "default" {
                    defaultTemplate = template
                } else {
                    if !names.contains(name) { names.append(name) }
                    keys["tokenizer.chat_template.\(name)"] = .string(template)
                }
            }
            // Python builds a set of names; its order is not defined, so it is sorted here
            if !names.isEmpty { keys["tokenizer.chat_templates"] = .array(elementType: .string, values: names.sorted().map { .string($0) }) }
            if let defaultTemplate { keys["tokenizer.chat_template"] = .string(defaultTemplate) }
        default:
            break
        }
        if let v = normalizerLowercase { keys["tokenizer.ggml.normalizer.lowercase"] = .bool(v) }
        if let v = normalizerStripAccents { keys["tokenizer.ggml.normalizer.strip_accents"] = .bool(v) }
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var s = self
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
