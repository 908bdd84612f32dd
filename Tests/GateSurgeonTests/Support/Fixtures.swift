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
