import GateSurgeon
import JSON
import Platform
import Testing

/// What only a real `gatesurgeon` process shows: an input truncated while
/// it is mapped (SIGBUS), a run killed or interrupted mid-write, and inputs
/// that are FIFOs. Each runs the built executable as a child; inputs of a
/// few hundred MB are sparse files, so they cost no disk and no time.
@Suite(.serialized) struct ProcessSafetyTests {
    /// Entries of `directory` that are unfinished outputs.
    static func partials(in directory: String) -> [String] {
        Paths.entries(of: directory).filter { $0.contains(".gatesurgeon-partial-") }
    }

    /// Waits until `condition` holds (polling every 2 ms), at most `seconds`.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Executable.now() + seconds
        while !condition() {
            if Executable.now() > deadline { return false }
            usleep(2000)
        }
        return true
    }

    static func fileSize(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    /// A GGUF of `tensors` F32 tensors of `elements` zeros each (sparse).
    static func writeSparseGGUF(_ path: String, tensors: Int, elements: Int) throws {
        let output = ByteArrayOutput()
        try output.write(GGUFFile.magic)
        try output.write(UInt32(3), endianness: .little)
        try output.write(UInt64(tensors), endianness: .little)
        try output.write(UInt64(1), endianness: .little)
        try output.writeLengthPrefixedUTF8("general.architecture", lengthType: UInt64.self, endianness: .little)
        try output.write(GGUFValueType.string.rawValue, endianness: .little)
        try output.writeLengthPrefixedUTF8("test", lengthType: UInt64.self, endianness: .little)
        for index in 0..<tensors {
            try output.writeLengthPrefixedUTF8("t\(index)", lengthType: UInt64.self, endianness: .little)
            try output.write(UInt32(2), endianness: .little)
            try output.write(UInt64(1000), endianness: .little)
            try output.write(UInt64(elements / 1000), endianness: .little)
            try output.write(DType.f32.ggmlTypeID!, endianness: .little)
            try output.write(UInt64(index * elements * 4), endianness: .little)
        }
        try output.writeZeros(32 - output.bytes.count % 32)
        try SyntheticModels.writeFile(path, output.bytes)
        #expect(truncate(path, off_t(output.bytes.count + tensors * elements * 4)) == 0)
    }

    /// A model directory (config.json of an architecture gatesurgeon casts
    /// without modelling, one safetensors file of zeros, sparse).
    static func writeSparseModel(_ directory: String, tensors: Int, elements: Int) throws {
        mkdir(directory, 0o755)
        try Paths.writeText(#"{"model_type": "stablelm", "architectures": ["StableLmForCausalLM"], "torch_dtype": "float32"}"#,
                            to: Paths.join(directory, "config.json"))
        var header = JSONObject()
        for index in 0..<tensors {
            header["t\(index)"] = .object(["dtype": .string("F32"), "shape": .array([.int(1000), .int(Int64(elements / 1000))]),
                                           "data_offsets": .array([.int(Int64(index * elements * 4)), .int(Int64((index + 1) * elements * 4))])])
        }
        var text = Array(JSONValue.object(header).serialized().utf8)
        text += [UInt8](repeating: 0x20, count: (8 - text.count % 8) % 8)
        let output = ByteArrayOutput()
        try output.write(UInt64(text.count), endianness: .little)
        try output.write(text)
        let path = Paths.join(directory, "model.safetensors")
        try SyntheticModels.writeFile(path, output.bytes)
        #expect(truncate(path, off_t(output.bytes.count + tensors * elements * 4)) == 0)
    }

    enum OutputKind: String, CaseIterable, Sendable {
        /// GGUF to a GGUF file: one staged file.
        case file
        /// A model directory to a sharded directory: a staged directory with files in it.
        case directory
    }

    /// Truncating the input of a running conversion ends it with one
    /// `error:` line naming the file, exit status 2, and no output or
    /// partial left (the SIGBUS handler), instead of a crash.
    @Test(arguments: OutputKind.allCases)
    func inputTruncatedMidConversionEndsCleanly(output kind: OutputKind) throws {
        let work = Fixtures.temporaryDirectory()
        let scratch = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(work); Fixtures.remove(scratch) }
        let input: String
        let arguments: [String]
        let staged: () -> Bool
        switch kind {
        case .file:
            input = Paths.join(work, "big.gguf")
            try Self.writeSparseGGUF(input, tensors: 3, elements: 25_000_000)
            arguments = ["convert", input, Paths.join(work, "out.gguf"), "--dtype", "f16", "--quiet"]
            staged = { !Self.partials(in: work).isEmpty }
        case .directory:
            try Self.writeSparseModel(Paths.join(work, "model"), tensors: 3, elements: 25_000_000)
            input = Paths.join(work, "model/model.safetensors")
            arguments = ["convert", Paths.join(work, "model"), Paths.join(work, "out"), "--dtype", "bf16", "--max-shard-size", "40MB", "--quiet"]
            // Truncate once a shard exists inside the staged directory.
            staged = { Self.partials(in: work).contains { !Paths.entries(of: Paths.join(work, $0)).isEmpty } }
        }
        let before = Paths.entries(of: work)
        let child = try Executable.start(arguments, scratch: scratch)
        let started = Self.waitUntil(seconds: 30) { staged() || child.poll() != nil }
        try #require(started && child.poll() == nil, "the conversion ended before the input could be truncated: \(child.errorOutput)")
        #expect(truncate(input, 1 << 20) == 0)
        let termination = child.wait(seconds: 30)
        #expect(termination == .exited(2), "\(termination.map(String.init(describing:)) ?? "still running"): \(child.errorOutput)")
        #expect(child.errorOutput == "error: \(input): the file shrank while it was being read (truncated by another program?); unfinished outputs were removed\n")
        #expect(Paths.entries(of: work) == before, "no output and no partial left")
    }

    /// SIGKILL cannot be caught: a run killed before, at and during its
    /// write leaves nothing at the final path and the input as it was; the
    /// partial it leaves is removed by the next run writing there.
    @Test func killedConversionLeavesNoOutputAndTheNextRunCleansUp() throws {
        let work = Fixtures.temporaryDirectory()
        let scratch = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(work); Fixtures.remove(scratch) }
        let input = Paths.join(work, "in.gguf")
        // 200 MB in, 100 MB out: long enough that the mid-write kill lands
        // before the (fast) cast finishes, also on an idle machine.
        try Self.writeSparseGGUF(input, tensors: 2, elements: 25_000_000)
        let pristine = Paths.join(scratch, "pristine.gguf")
        try Paths.copyFile(from: input, to: pristine)
        let output = Paths.join(work, "out.gguf")
        let arguments = ["convert", input, output, "--dtype", "f16", "--quiet"]
        let points: [(String, () -> Bool)] = [
            ("at once", { true }),
            ("when the partial appears", { !Self.partials(in: work).isEmpty }),
            ("mid-write", { Self.partials(in: work).contains { Self.fileSize(Paths.join(work, $0)) >= 4 << 20 } }),
        ]
        for (point, condition) in points {
            let child = try Executable.start(arguments, scratch: scratch)
            let reached = Self.waitUntil(seconds: 30) { condition() || child.poll() != nil }
            #expect(reached && child.poll() == nil, "\(point): the run ended first: \(child.errorOutput)")
            child.signal(SIGKILL)
            #expect(child.wait(seconds: 10) == .signaled(SIGKILL), "\(point)")
            #expect(!Paths.exists(output), "\(point): nothing at the final path")
            let same = try MappedFile(path: input).withBytes { a in
                try MappedFile(path: pristine).withBytes { b in a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
            }
            #expect(same, "\(point): the input is unchanged")
        }
        let stale = Self.partials(in: work)
        #expect(!stale.isEmpty, "the mid-write kill leaves a partial")
        let outcome = try CLI.succeed(arguments)
        #expect(outcome.errorOutput.contains("left by an interrupted run"), "\(outcome.errorOutput)")
        #expect(Self.partials(in: work).isEmpty, "the next run removed \(stale)")
        #expect(Paths.entries(of: work) == ["in.gguf", "out.gguf"])
    }

    /// SIGINT removes what is staged, files inside a staged directory
    /// included (the same registry the SIGBUS handler reads), and the
    /// process ends by the signal.
    @Test func interruptRemovesTheStagedDirectory() throws {
        let work = Fixtures.temporaryDirectory()
        let scratch = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(work); Fixtures.remove(scratch) }
        try Self.writeSparseModel(Paths.join(work, "model"), tensors: 3, elements: 25_000_000)
        let child = try Executable.start(["convert", Paths.join(work, "model"), Paths.join(work, "out"), "--dtype", "bf16",
                                          "--max-shard-size", "40MB", "--quiet"], scratch: scratch)
        let staged = Self.waitUntil(seconds: 30) {
            Self.partials(in: work).contains { !Paths.entries(of: Paths.join(work, $0)).isEmpty } || child.poll() != nil
        }
        try #require(staged && child.poll() == nil, "the conversion ended first: \(child.errorOutput)")
        child.signal(SIGINT)
        #expect(child.wait(seconds: 30) == .signaled(SIGINT))
        #expect(Paths.entries(of: work) == ["model"])
    }

    /// A FIFO where a file is read is refused at once, never waited on: as
    /// the checkpoint, as a shard of a directory, and as a config.
    @Test func fifosAreRefusedWithoutBlocking() throws {
        let work = Fixtures.temporaryDirectory()
        let scratch = Fixtures.temporaryDirectory()
        defer { Fixtures.remove(work); Fixtures.remove(scratch) }
        let fifo = Paths.join(work, "fifo.safetensors")
        #expect(mkfifo(fifo, 0o644) == 0)
        let sharded = Paths.join(work, "sharded")
        mkdir(sharded, 0o755)
        try Paths.copyFile(from: Fixtures.path("bad/st-sharded-missing-shard/model.safetensors.index.json"),
                           to: Paths.join(sharded, "model.safetensors.index.json"))
        try Paths.copyFile(from: Fixtures.path("bad/st-sharded-missing-shard/model-00001-of-00002.safetensors"),
                           to: Paths.join(sharded, "model-00001-of-00002.safetensors"))
        let shard = Paths.join(sharded, "model-00002-of-00002.safetensors")
        #expect(mkfifo(shard, 0o644) == 0)
        let configFIFO = Paths.join(work, "config.json")
        #expect(mkfifo(configFIFO, 0o644) == 0)
        let cases: [([String], String)] = [
            (["inspect", fifo], fifo),
            (["inspect", sharded], shard),
            (["forward", Fixtures.path("models/llama/model.safetensors"), "--config", configFIFO, "--tokens", "1,2"], configFIFO),
        ]
        for (arguments, named) in cases {
            let start = Executable.now()
            let (termination, message) = try Executable.run(arguments, scratch: scratch, seconds: 15)
            #expect(termination == .exited(2), "\(arguments): \(message)")
            #expect(message == "error: \(named): cannot open: not a regular file (it is a FIFO)\n", "\(message)")
            #expect(Executable.now() - start < 10)
        }
    }
}
