/// NFD, NFKD, NFC and NFKC as HF `tokenizers` 0.23.3 computes them (its copy of
/// unicode-normalization, whose tables predate Unicode 12: characters added since do not
/// decompose and marks added since are starters). The algorithm is UAX #15's: full
/// decomposition, canonical ordering by combining class, canonical composition with blocking;
/// Hangul syllables algorithmically. The tables are the ones probed from `tokenizers`.
enum UnicodeNormalization {
    enum Form: Sendable, Equatable { case nfd, nfkd, nfc, nfkc }

    private static let hangulBase: UInt32 = 0xAC00, leadBase: UInt32 = 0x1100, vowelBase: UInt32 = 0x1161,
        trailBase: UInt32 = 0x11A7
    private static let vowelCount: UInt32 = 21, trailCount: UInt32 = 28, syllableCount: UInt32 = 11172

    /// `scalars` in normalization form `form`.
    /// - Complexity: O(n) for text without long runs of combining marks.
    static func normalize(_ scalars: [UInt32], _ form: Form) -> [UInt32] {
        let compatible = form == .nfkd || form == .nfkc
        var result: [UInt32] = []
        result.reserveCapacity(scalars.count)
        for scalar in scalars { decompose(scalar, compatible: compatible, into: &result) }
        reorder(&result)
        if form == .nfc || form == .nfkc { compose(&result) }
        return result
    }

    @inline(__always)
    static func combiningClass(_ scalar: UInt32) -> UInt8 {
        scalar < 0x300 ? 0 : UnicodeTables.combiningClass[scalar] ?? 0
    }

    private static func decompose(_ scalar: UInt32, compatible: Bool, into result: inout [UInt32]) {
        if scalar < 0xC0 && !(compatible && scalar >= 0xA0) {
            result.append(scalar)
            return
        }
        if scalar >= hangulBase && scalar < hangulBase + syllableCount {
            let index = scalar - hangulBase
            result.append(leadBase + index / (vowelCount * trailCount))
            result.append(vowelBase + (index % (vowelCount * trailCount)) / trailCount)
            let trail = index % trailCount
            if trail != 0 { result.append(trailBase + trail) }
            return
        }
        if compatible, let mapping = UnicodeTables.compatibilityDecomposition[scalar] {
            result += mapping
        } else if let mapping = UnicodeTables.canonicalDecomposition[scalar] {
            result += mapping
        } else {
            result.append(scalar)
        }
    }

    /// Stable sort of every run of non-starters by combining class.
    private static func reorder(_ scalars: inout [UInt32]) {
        var start = 0
        while start < scalars.count {
            guard combiningClass(scalars[start]) != 0 else {
                start += 1
                continue
            }
            var end = start + 1
            while end < scalars.count && combiningClass(scalars[end]) != 0 { end += 1 }
            if end - start > 32 {
                // a stable sort by class: (class, position) keys are all distinct
                let run = (start..<end).map { (cc: combiningClass(scalars[$0]), index: $0, scalar: scalars[$0]) }
                    .sorted { ($0.cc, $0.index) < ($1.cc, $1.index) }
                for (offset, entry) in run.enumerated() { scalars[start + offset] = entry.scalar }
            } else if end - start > 1 {
                // insertion sort keeps equal classes in order
                for i in (start + 1)..<end {
                    let value = scalars[i]
                    let cc = combiningClass(value)
                    var j = i
                    while j > start && combiningClass(scalars[j - 1]) > cc {
                        scalars[j] = scalars[j - 1]
                        j -= 1
                    }
                    scalars[j] = value
                }
            }
            start = end
        }
    }

    private static func composePair(_ first: UInt32, _ second: UInt32) -> UInt32? {
        if first >= leadBase && first < leadBase + 19 && second >= vowelBase && second < vowelBase + vowelCount {
            return hangulBase + ((first - leadBase) * vowelCount + (second - vowelBase)) * trailCount
        }
        if first >= hangulBase && first < hangulBase + syllableCount && (first - hangulBase) % trailCount == 0
            && second > trailBase && second < trailBase + trailCount
        {
            return first + (second - trailBase)
        }
        return UnicodeTables.composition[UInt64(first) << 32 | UInt64(second)]
    }

    /// Canonical composition of a canonically ordered sequence.
    private static func compose(_ scalars: inout [UInt32]) {
        guard !scalars.isEmpty else { return }
        var output: [UInt32] = []
        output.reserveCapacity(scalars.count)
        var starterIndex: Int? = nil
        // class of the last character kept since the starter; 0 while adjacent to it
        var lastClass: UInt8 = 0
        for scalar in scalars {
            let cc = combiningClass(scalar)
            if let s = starterIndex, lastClass == 0 || lastClass < cc, let composite = composePair(output[s], scalar) {
                output[s] = composite
                continue
            }
            if cc == 0 {
                starterIndex = output.count
            }
            lastClass = cc
            output.append(scalar)
        }
        scalars = output
    }
}
