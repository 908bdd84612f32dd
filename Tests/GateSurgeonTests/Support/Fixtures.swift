import GateSurgeon
import JSON
import Testing

import Platform

/// Paths of the committed reference fixtures (see fixtures/README.md), and
/// scratch directories for outputs.
enum Fixtures {
    /// The package root: the nearest folder above this file with a Package.swift.
    static let root: String = {
        var path = Paths.directory(of: #filePath)
        while path != "/" && !Paths.exists(Paths.join(path, "Package.swift")) { path = Paths.directory(of: path) }
        return path
    }()

    static func path(_ relative: String) -> String { Paths.join(Paths.join(root, "fixtures"), relative) }

    static let modelNames = ["llama", "mistral", "qwen2", "qwen3"]

    /// A fresh empty directory under /tmp, removed by the caller's `defer`.
    static func temporaryDirectory() -> String {
        var template = Array("/tmp/gatesurgeon-test-XXXXXX".utf8CString)
        let pointer = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: pointer!)
    }

    static func remove(_ path: String) { Paths.removeTree(path) }

    /// Copies the regular files of a directory (fixtures are flat).
    static func copyDirectory(from source: String, to destination: String) throws {
        mkdir(destination, 0o755)
        for name in Paths.entries(of: source) {
            try Paths.copyFile(from: Paths.join(source, name), to: Paths.join(destination, name))
        }
    }

    static func json(_ relative: String) throws -> JSONValue {
        try JSONValue.parse(try Paths.readFile(path(relative)))
    }

    static func bytes(_ path: String) throws -> [UInt8] { try Paths.readFile(path) }

    /// The F32 values of a tensor in a safetensors file.
    static func floats(_ file: SafetensorsFile, _ name: String) throws -> [Float] {
        let tensor = try #require(file.tensor(named: name), "no tensor \(name) in \(file.path)")
        return try TensorExpression.stored(tensor).allValues()
    }
}

/// Reading the reference files.
extension Fixtures {
    /// The token ids every reference forward pass was computed on.
    static let referenceTokens = [1, 17, 42, 99, 5, 64, 23, 7]

    /// Every tensor of a reference safetensors file, as F32 values and shape.
    static func tensors(_ relative: String) throws -> [String: (shape: [Int], values: [Float])] {
        let checkpoint = try Checkpoint(path: path(relative))
        var result: [String: (shape: [Int], values: [Float])] = [:]
        for tensor in checkpoint.tensors {
            result[tensor.name] = (tensor.shape, try TensorExpression.stored(tensor).allValues())
        }
        return result
    }

    static func graph(_ relative: String) throws -> ModelGraph {
        try ModelGraph(checkpoint: Checkpoint(path: path(relative)))
    }

    /// The largest |a - b|; infinity (and an issue) when the lists differ in length.
    static func maxAbsDifference(_ a: [Float], _ b: [Float], sourceLocation: SourceLocation = #_sourceLocation) -> Float {
        guard a.count == b.count else {
            Issue.record("\(a.count) values against \(b.count) reference values", sourceLocation: sourceLocation)
            return .infinity
        }
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// `zip(a, b)` for two lists that must be as long as each other (one is a
    /// reference): records an issue when they are not, so no entry is left
    /// unchecked by zip's silent cut.
    static func pairs<A: Collection, B: Collection>(_ a: A, _ b: B, sourceLocation: SourceLocation = #_sourceLocation) -> Zip2Sequence<A, B> {
        #expect(a.count == b.count, "\(a.count) entries against \(b.count) reference entries", sourceLocation: sourceLocation)
        return zip(a, b)
    }

    /// torch's casts (fixtures/gen/casts.py) and ggml's quantizations with
    /// gguf-py's dequantizations (fixtures/gen/quant.py).
    static let casts = Result { try SafetensorsFile(path: path("reference/casts.safetensors")) }
    static let quant = Result { try SafetensorsFile(path: path("reference/quant.safetensors")) }
}
