/// The element type of a stored tensor: every safetensors dtype and every
/// ggml type a GGUF file can hold, under one name.
///
/// Plain types (`f32`, `bf16`, `i64`, ...) exist in both formats; block
/// types (`q4_K`, `iq4_NL`, ...) only in GGUF, where a row is stored as whole
/// blocks of `blockSize` elements taking `blockBytes` bytes each.
public enum DType: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    // safetensors types, in the crate's order of increasing alignment.
    case bool = "BOOL"
    case f4 = "F4"
    case f6E2M3 = "F6_E2M3"
    case f6E3M2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8E5M2 = "F8_E5M2"
    case f8E4M3 = "F8_E4M3"
    case f8E8M0 = "F8_E8M0"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"
    // ggml block types.
    case q4_0 = "Q4_0"
    case q4_1 = "Q4_1"
    case q5_0 = "Q5_0"
    case q5_1 = "Q5_1"
    case q8_0 = "Q8_0"
    case q8_1 = "Q8_1"
    case q2_K = "Q2_K"
    case q3_K = "Q3_K"
    case q4_K = "Q4_K"
    case q5_K = "Q5_K"
    case q6_K = "Q6_K"
    case q8_K = "Q8_K"
    case iq2_XXS = "IQ2_XXS"
    case iq2_XS = "IQ2_XS"
    case iq3_XXS = "IQ3_XXS"
    case iq1_S = "IQ1_S"
    case iq4_NL = "IQ4_NL"
    case iq3_S = "IQ3_S"
    case iq2_S = "IQ2_S"
    case iq4_XS = "IQ4_XS"
    case iq1_M = "IQ1_M"
    case tq1_0 = "TQ1_0"
    case tq2_0 = "TQ2_0"
    case mxfp4 = "MXFP4"
    case nvfp4 = "NVFP4"
    case q1_0 = "Q1_0"

    /// The format's own upper-case name ("BF16", "Q4_K").
    public var name: String { rawValue }
    public var description: String { rawValue }

    /// Elements per storage block: 1 for byte-sized types, 2 for F4, 4 for
    /// the 6-bit floats, 32 to 256 for ggml block types.
    public var blockSize: Int {
        switch self {
        case .f4: 2
        case .f6E2M3, .f6E3M2: 4
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_NL, .mxfp4: 32
        case .nvfp4: 64
        case .q1_0: 128
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K, .iq2_XXS, .iq2_XS, .iq3_XXS, .iq1_S,
            .iq3_S, .iq2_S, .iq4_XS, .iq1_M, .tq1_0, .tq2_0:
            256
        default: 1
        }
    }

    /// Bytes per storage block (ggml's `type_size`).
    public var blockBytes: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .f4: 1
        case .f6E2M3, .f6E3M2: 3
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .c64, .f64, .i64, .u64: 8
        case .q4_0, .q1_0: 18
        case .q4_1: 20
        case .q5_0: 22
        case .q5_1: 24
        case .q8_0: 34
        case .q8_1: 36
        case .q2_K: 84
        case .q3_K: 110
        case .q4_K: 144
        case .q5_K: 176
        case .q6_K: 210
        case .q8_K: 292
        case .iq2_XXS: 66
        case .iq2_XS: 74
        case .iq3_XXS: 98
        case .iq1_S: 50
        case .iq4_NL: 18
        case .iq3_S: 110
        case .iq2_S: 82
        case .iq4_XS: 136
        case .iq1_M: 56
        case .tq1_0: 54
        case .tq2_0: 66
        case .mxfp4: 17
        case .nvfp4: 36
        }
    }

    /// True for ggml block types (quantized data).
    public var isQuantized: Bool { ggmlTypeID.map { _ in blockSize > 1 } ?? false }

    /// True for types a checkpoint stores real-valued weights in and that the
    /// numerics convert to and from F32.
    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8E4M3, .f8E5M2: true
        default: isQuantized
        }
    }

    /// Bits per element, for summaries (4.5 for Q4_0).
    public var bitsPerElement: Double { Double(blockBytes * 8) / Double(blockSize) }

    /// Bytes needed for `count` elements, or nil when `count` is not a whole
    /// number of blocks or the size overflows.
    public func byteCount(elements count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// The id GGUF files store, or nil for types GGUF has no id for.
    public var ggmlTypeID: UInt32? {
        switch self {
        case .f32: 0
        case .f16: 1
        case .q4_0: 2
        case .q4_1: 3
        case .q5_0: 6
        case .q5_1: 7
        case .q8_0: 8
        case .q8_1: 9
        case .q2_K: 10
        case .q3_K: 11
        case .q4_K: 12
        case .q5_K: 13
        case .q6_K: 14
        case .q8_K: 15
        case .iq2_XXS: 16
        case .iq2_XS: 17
        case .iq3_XXS: 18
        case .iq1_S: 19
        case .iq4_NL: 20
        case .iq3_S: 21
        case .iq2_S: 22
        case .iq4_XS: 23
        case .i8: 24
        case .i16: 25
        case .i32: 26
        case .i64: 27
        case .f64: 28
        case .iq1_M: 29
        case .bf16: 30
        case .tq1_0: 34
        case .tq2_0: 35
        case .mxfp4: 39
        case .nvfp4: 40
        case .q1_0: 41
        default: nil
        }
    }

    /// The type GGUF id `id` denotes, or nil for unknown and removed ids.
    public init?(ggmlTypeID id: UInt32) {
        guard let type = DType.byGGMLTypeID[id] else { return nil }
        self = type
    }

    /// Names of ids ggml once used and removed, for clearer errors.
    public static func removedGGMLTypeName(_ id: UInt32) -> String? {
        switch id {
        case 4: "Q4_2"
        case 5: "Q4_3"
        case 31: "Q4_0_4_4"
        case 32: "Q4_0_4_8"
        case 33: "Q4_0_8_8"
        case 36: "IQ4_NL_4_4"
        case 37: "IQ4_NL_4_8"
        case 38: "IQ4_NL_8_8"
        default: nil
        }
    }

    private static let byGGMLTypeID: [UInt32: DType] = Dictionary(
        uniqueKeysWithValues: allCases.compactMap { type in type.ggmlTypeID.map { ($0, type) } })

    /// True for the types a safetensors file can hold.
    public var isSafetensorsType: Bool { DType.safetensorsTypes.contains(self) }

    /// The type a safetensors dtype string names, or nil.
    public init?(safetensorsName name: String) {
        guard let type = DType(rawValue: name), type.isSafetensorsType else { return nil }
        self = type
    }

    static let safetensorsTypes: Set<DType> = [
        .bool, .f4, .f6E2M3, .f6E3M2, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0, .i16, .u16, .f16,
        .bf16, .i32, .u32, .f32, .c64, .f64, .i64, .u64,
    ]

    /// Rank used to order tensors in a safetensors file the way the reference
    /// crate does: larger alignment first, then by name.
    var safetensorsAlignmentRank: Int {
        DType.allCases.firstIndex(of: self)!
    }

    /// Accepts lower-case spellings on the command line ("q4_k", "bf16").
    public init?(userSpelling text: String) {
        let upper = text.uppercased()
        guard let type = DType.allCases.first(where: { $0.rawValue == upper }) else { return nil }
        self = type
    }
}
