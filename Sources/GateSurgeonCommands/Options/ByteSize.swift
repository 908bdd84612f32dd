import ArgumentParser

/// Sizes written the way people write them: 5GB, 500MB, 2GiB. A unit is
/// required, so `5` cannot silently mean five bytes.
enum ByteSize {
    static let units: [(suffix: String, factor: Double)] = [
        ("kib", 1024), ("mib", 1_048_576), ("gib", 1_073_741_824), ("tib", 1_099_511_627_776),
        ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("tb", 1e12), ("k", 1e3), ("m", 1e6), ("g", 1e9), ("t", 1e12), ("b", 1),
    ]

    /// The byte count, or a message saying what is wrong.
    static func parse(_ text: String) throws -> Int {
        let lower = text.lowercased().filter { $0 != " " && $0 != "_" }
        guard let unit = units.first(where: { lower.hasSuffix($0.suffix) }) else {
            throw ValidationError("'\(text)' needs a unit, such as 5GB, 500MB or 2GiB")
        }
        let number = lower.dropLast(unit.suffix.count)
        // Digits and one decimal point only: no exponents, infinities or NaN.
        guard !number.isEmpty, number.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
            number.filter({ $0 == "." }).count <= 1, let value = Double(number)
        else {
            throw ValidationError("'\(text)' is not a size such as 5GB, 500MB or 2GiB")
        }
        let bytes = value * unit.factor
        guard bytes >= 1, bytes < 9.0e18 else {
            throw ValidationError("'\(text)' is out of range")
        }
        return Int(bytes)
    }

    /// llama-gguf-split's `--split-max-size`: a positive whole number and
    /// `M` (10^6 bytes) or `G` (10^9). Stricter than the tool, which reads
    /// `1.5G` as 1G: anything else is refused rather than read differently.
    static func parseSplitMaxSize(_ text: String) throws -> Int {
        guard let unit = text.last, unit == "M" || unit == "G" else {
            throw ValidationError("--split-max-size '\(text)': llama-gguf-split's sizes are a whole number followed by M or G (500M, 4G); --max-shard-size takes 500MB, 2GiB")
        }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(digits), count > 0 else {
            throw ValidationError("--split-max-size '\(text)': expected a positive whole number followed by M or G (500M, 4G)")
        }
        return count * (unit == "M" ? 1_000_000 : 1_000_000_000)
    }
}
