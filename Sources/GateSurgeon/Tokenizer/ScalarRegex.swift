/// A backtracking regular expression over Unicode scalars with Oniguruma's (Ruby syntax)
/// semantics for the subset tokenizer patterns use: leftmost-first alternation, greedy, lazy and
/// possessive quantifiers, counted repetition, non-capturing, capturing and atomic groups,
/// `(?i:...)` on ASCII letters, lookahead, `^ $ \A \z \b \B`, classes with ranges, negation,
/// `\s \S \d \D \w \W`, `\p{..}`/`\P{..}` general categories, and escapes.
///
/// Character classes are answered from the tables probed from `tokenizers` (Oniguruma's Unicode
/// 16.0 data), so `\p{L}` here is exactly `\p{L}` there. Anything else (lookbehind, backreferences,
/// scripts such as `\p{Han}`, class intersection) is refused when the pattern is compiled, never
/// matched differently.
///
/// Backtracking is exponential for patterns such as `(a+)+$` or `(a|a)*b` on text that almost
/// matches. As Oniguruma stops at its retry limit (and HF tokenizers then fails the input), the
/// executor stops after a number of steps proportional to the text (`Budget`, shared by the
/// regexes of one encode or decode call) and throws `MatchLimitExceeded` naming the pattern.
/// Tokenizer patterns take a few dozen steps per scalar (the tokenizer tests measure them on
/// every fixture), far below the budget.
struct ScalarRegex: Sendable {
    struct CompileError: Error, CustomStringConvertible {
        var pattern: String
        var problem: String
        var description: String { "regex \"\(pattern)\": \(problem)" }
    }

    /// The executor gave up: the regexes of one encode or decode call took more than the
    /// `steps` its text of `length` scalars allows; `pattern` was running.
    struct MatchLimitExceeded: Error, CustomStringConvertible, Equatable {
        var pattern: String
        var steps: Int
        var length: Int
        var description: String {
            "regex \"\(pattern)\" backtracks without end on a text of \(length) characters (stopped after \(steps) steps); "
                + "HF tokenizers' regex engine stops at its retry limit too"
        }
    }

    /// The steps the regexes of one encode or decode call may take together: a fixed
    /// allowance and `stepsPerScalar` for each scalar of the text. A step is one instruction,
    /// or one scalar a run of a class scans, so the budget bounds the work however the
    /// pattern backtracks. Tokenizer patterns take a few steps per scalar; `(a+)+$` takes
    /// 2^n on n a's and a `!`. Oniguruma stops a match after 10 million retries, so inputs
    /// near its limit can fail here and not in HF tokenizers (an error, never other ids).
    struct Budget {
        static let stepsPerScalar = 1_000
        static let minimumSteps = 1_000_000

        let limit: Int
        let length: Int
        var stepsLeft: Int

        init(textLength: Int) {
            let (scaled, overflow) = textLength.multipliedReportingOverflow(by: Self.stepsPerScalar)
            self.init(limit: overflow || scaled > Int.max - Self.minimumSteps ? Int.max : scaled + Self.minimumSteps, textLength: textLength)
        }

        init(limit: Int, textLength: Int) {
            self.limit = limit
            length = textLength
            stepsLeft = limit
        }

        /// The steps taken so far.
        var used: Int { limit - stepsLeft }
    }

    /// A set of scalars: a union of general categories, complements of categories, property bits,
    /// complements of property bits and ranges, possibly negated as a whole.
    struct CharacterSet: Sendable {
        var categories: UInt32 = 0
        /// Members are the scalars whose category is not in this mask (when `hasCategoryComplement`).
        var categoryComplement: UInt32 = 0
        var hasCategoryComplement = false
        var properties: UInt16 = 0
        var negatedProperties: UInt16 = 0
        var ranges: [ClosedRange<UInt32>] = []
        var negated = false

        var usesTable: Bool { categories != 0 || hasCategoryComplement || properties != 0 || negatedProperties != 0 }

        mutating func formUnion(_ other: CharacterSet) {
            precondition(!other.negated)
            categories |= other.categories
            if other.hasCategoryComplement {
                categoryComplement = hasCategoryComplement ? categoryComplement & other.categoryComplement : other.categoryComplement
                hasCategoryComplement = true
            }
            properties |= other.properties
            negatedProperties |= other.negatedProperties
            ranges += other.ranges
        }

        @inline(__always)
        func contains(_ c: UInt32) -> Bool {
            var found = false
            for r in ranges where r.contains(c) { found = true; break }
            if !found && usesTable {
                let p = UnicodeTables.hfProperties[c]
                let category: UInt32 = 1 << UInt32(p & 0x1F)
                if categories & category != 0 || p & properties != 0 || (~p) & negatedProperties != 0
                    || (hasCategoryComplement && categoryComplement & category == 0)
                {
                    found = true
                }
            }
            return found != negated
        }
    }

    /// A `CharacterSet` flattened for matching: membership of ASCII precomputed, ranges in the
    /// regex's shared `rangeBounds`.
    struct CompiledSet: Sendable {
        var asciiLow: UInt64 = 0
        var asciiHigh: UInt64 = 0
        var categories: UInt32 = 0
        var categoryComplement: UInt32 = 0
        var hasCategoryComplement = false
        var properties: UInt16 = 0
        var negatedProperties: UInt16 = 0
        var negated = false
        var rangeStart: Int32 = 0
        var rangeCount: Int32 = 0

        @inline(__always)
        func contains(_ c: UInt32, bounds: UnsafeBufferPointer<UInt32>) -> Bool {
            if c < 64 { return asciiLow & (1 << UInt64(c)) != 0 }
            if c < 128 { return asciiHigh & (1 << UInt64(c - 64)) != 0 }
            var found = false
            var i = Int(rangeStart) * 2
            let end = i + Int(rangeCount) * 2
            while i < end {
                if c >= bounds[i] && c <= bounds[i + 1] { found = true; break }
                i += 2
            }
            if !found && (categories != 0 || hasCategoryComplement || properties != 0 || negatedProperties != 0) {
                let p = UnicodeTables.hfProperties[c]
                let category: UInt32 = 1 << UInt32(p & 0x1F)
                found = categories & category != 0 || p & properties != 0 || (~p) & negatedProperties != 0
                    || (hasCategoryComplement && categoryComplement & category == 0)
            }
            return found != negated
        }
    }

    enum Instruction: Sendable {
        case scalar(UInt32)
        case scalarEither(UInt32, UInt32, UInt32)  // case-insensitive letter: up to three spellings
        case set(Int)
        case any  // `.`: anything but a newline
        case anyButLineTerminator  // ECMAScript `.`
        case split(Int, Int)  // try the first, backtrack to the second
        case jump(Int)
        case repeatSet(set: Int, min: Int, max: Int)  // greedy run of one set
        case lookahead(start: Int, negated: Bool)
        case atomic(start: Int)
        case assertion(Assertion)
        case match
    }

    enum Assertion: Sendable {
        case lineStart, lineEnd, textStart, textEnd, textEndBeforeNewline, wordBoundary, notWordBoundary
        case asciiWordBoundary, notAsciiWordBoundary
    }

    /// Whose syntax and classes: Oniguruma's (HF `tokenizers`), or std::regex ECMAScript's as
    /// llama.cpp runs it (`\s \d \w` ASCII only, `^ $` at the ends of the text, `.` stops at line
    /// terminators, no `(?i)`, possessive or atomic groups).
    enum Flavor: Sendable { case oniguruma, ecmaScript }

    let pattern: String
    /// Whether the pattern can match empty text.
    let canMatchEmpty: Bool
    /// Scalars every match contains (`b` for `(a|a)*b`): where one is missing from the rest
    /// of the text no match can start, and no search runs there (as Oniguruma's search
    /// optimizations skip it, which makes such a pattern harmless on such text).
    let requiredScalars: [UInt32]
    private(set) var program: [Instruction] = []
    private(set) var sets: [CompiledSet] = []
    private(set) var rangeBounds: [UInt32] = []

    init(_ pattern: String, flavor: Flavor = .oniguruma) throws(CompileError) {
        self.pattern = pattern
        var parser = Parser(scalars: Array(pattern.unicodeScalars.map(\.value)), pattern: pattern, flavor: flavor)
        let node = try parser.parseAll()
        canMatchEmpty = Compiler.canBeEmpty(node)
        requiredScalars = Compiler.requiredScalars(node).sorted()
        var compiler = Compiler()
        try compiler.emit(node, pattern: pattern)
        guard compiler.program.count <= 100_000 else {
            throw CompileError(pattern: pattern, problem: "the compiled pattern is too large")
        }
        compiler.program.append(.match)
        program = compiler.program
        for set in compiler.sets {
            var compiled = CompiledSet(categories: set.categories, categoryComplement: set.categoryComplement,
                                       hasCategoryComplement: set.hasCategoryComplement, properties: set.properties,
                                       negatedProperties: set.negatedProperties, negated: set.negated,
                                       rangeStart: Int32(rangeBounds.count / 2), rangeCount: Int32(set.ranges.count))
            for r in set.ranges { rangeBounds += [r.lowerBound, r.upperBound] }
            for c in UInt32(0)..<128 where set.contains(c) {
                if c < 64 { compiled.asciiLow |= 1 << UInt64(c) } else { compiled.asciiHigh |= 1 << UInt64(c - 64) }
            }
            sets.append(compiled)
        }
    }

    /// The matches Oniguruma's `find_iter` reports, as scalar index ranges: leftmost-first from
    /// the end of the previous match; an empty match right after a match is skipped. The steps
    /// taken come out of `budget`.
    /// - Throws: `MatchLimitExceeded` when the budget runs out.
    /// - Complexity: at most `budget.stepsLeft` steps.
    func matches(in text: [UInt32], budget: inout Budget) throws(MatchLimitExceeded) -> [Range<Int>] {
        var result: [Range<Int>] = []
        // The last position a match can start at: at or before the last occurrence of each
        // required scalar.
        var lastStart = text.count
        for scalar in requiredScalars {
            guard let last = text.lastIndex(of: scalar) else { return [] }
            lastStart = min(lastStart, last)
        }
        let stepsLeft = budget.stepsLeft
        let left = program.withUnsafeBufferPointer { program in sets.withUnsafeBufferPointer { sets in rangeBounds.withUnsafeBufferPointer { bounds in
        text.withUnsafeBufferPointer { buffer in
            var executor = Executor(program: program, sets: sets, bounds: bounds, text: buffer, stepsLeft: stepsLeft)
            var start = 0
            var lastMatchEnd: Int? = nil
            while start <= lastStart {
                guard let found = executor.search(from: start, through: lastStart) else { break }
                if found.isEmpty && lastMatchEnd == found.lowerBound {
                    start = found.lowerBound + 1
                    continue
                }
                result.append(found)
                start = found.upperBound
                lastMatchEnd = found.upperBound
                if found.isEmpty { start += 1 }
            }
            return executor.stepsLeft
        }
        } } }
        budget.stepsLeft = left
        guard left >= 0 else { throw MatchLimitExceeded(pattern: pattern, steps: budget.limit, length: budget.length) }
        return result
    }

    /// `matches(in:budget:)` with the budget of `text` alone.
    func matches(in text: [UInt32]) throws(MatchLimitExceeded) -> [Range<Int>] {
        var budget = Budget(textLength: text.count)
        return try matches(in: text, budget: &budget)
    }

    // MARK: - execution

    struct Executor {
        let program: UnsafeBufferPointer<Instruction>
        let sets: UnsafeBufferPointer<CompiledSet>
        let bounds: UnsafeBufferPointer<UInt32>
        let text: UnsafeBufferPointer<UInt32>
        var stack: [(pc: Int32, pos: Int32, low: Int32)] = []
        /// Steps left of the budget; below zero, every run fails at once and the caller throws.
        var stepsLeft: Int

        init(program: UnsafeBufferPointer<Instruction>, sets: UnsafeBufferPointer<CompiledSet>, bounds: UnsafeBufferPointer<UInt32>,
             text: UnsafeBufferPointer<UInt32>, stepsLeft: Int) {
            self.program = program
            self.sets = sets
            self.bounds = bounds
            self.text = text
            self.stepsLeft = stepsLeft
            stack.reserveCapacity(64)
        }

        /// The first match starting in `start...last`; nil when there is none or the budget ran out.
        mutating func search(from start: Int, through last: Int) -> Range<Int>? {
            var position = start
            while position <= last {
                if let end = run(pc: 0, at: position) { return position..<end }
                if stepsLeft < 0 { return nil }
                // A pattern that opens with an unbounded run of a class (`\s+$`) and failed at
                // `position` has tried the rest of the pattern after every end of the run; from
                // a later start inside the run it would try a subset of those ends. So the
                // search goes on after the run (without this, each start scans the run again:
                // quadratic in its length).
                if case .repeatSet(let index, _, let maximum) = program[0], maximum == Int.max {
                    let set = sets[index]
                    var end = position
                    while end < text.count && set.contains(text[end], bounds: bounds) { end += 1 }
                    stepsLeft &-= end - position
                    if end > position {
                        position = end + 1
                        continue
                    }
                }
                position += 1
            }
            return nil
        }

        private func isWord(_ index: Int) -> Bool {
            index >= 0 && index < text.count && UnicodeTables.hfProperties[text[index]] & UnicodeTables.Property.onigurumaWord.rawValue != 0
        }

        private func isASCIIWord(_ index: Int) -> Bool {
            guard index >= 0 && index < text.count else { return false }
            let c = text[index]
            return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F
        }

        /// The end of the first match of the program from `pc` at `position`, in priority order.
        mutating func run(pc startPC: Int, at position: Int) -> Int? {
            let base = stack.count
            defer { stack.removeSubrange(base...) }
            var pc = startPC
            var pos = position
            let count = text.count
            while true {
                stepsLeft &-= 1
                if stepsLeft < 0 { return nil }
                var fail = false
                switch program[pc] {
                case .scalar(let c):
                    if pos < count && text[pos] == c { pos += 1; pc += 1 } else { fail = true }
                case .scalarEither(let a, let b, let c):
                    if pos < count, text[pos] == a || text[pos] == b || text[pos] == c { pos += 1; pc += 1 } else { fail = true }
                case .set(let index):
                    if pos < count && sets[index].contains(text[pos], bounds: bounds) { pos += 1; pc += 1 } else { fail = true }
                case .any:
                    if pos < count && text[pos] != 0x0A { pos += 1; pc += 1 } else { fail = true }
                case .anyButLineTerminator:
                    if pos < count, text[pos] != 0x0A && text[pos] != 0x0D && text[pos] != 0x2028 && text[pos] != 0x2029 {
                        pos += 1
                        pc += 1
                    } else {
                        fail = true
                    }
                case .split(let first, let second):
                    stack.append((Int32(second), Int32(pos), -1))
                    pc = first
                case .jump(let target):
                    pc = target
                case .repeatSet(let index, let minimum, let maximum):
                    let set = sets[index]
                    var end = pos
                    while end < count && end - pos < maximum && set.contains(text[end], bounds: bounds) { end += 1 }
                    stepsLeft &-= end - pos
                    if end - pos < minimum {
                        fail = true
                    } else {
                        if end - pos > minimum { stack.append((Int32(pc + 1), Int32(end - 1), Int32(pos + minimum))) }
                        pos = end
                        pc += 1
                    }
                case .lookahead(let start, let negated):
                    let matched = run(pc: start, at: pos) != nil
                    if matched != negated {
                        // skip the sub-program, which the compiler placed right after this instruction
                        pc = subprogramEnd(after: pc)
                    } else {
                        fail = true
                    }
                case .atomic(let start):
                    if let end = run(pc: start, at: pos) {
                        pos = end
                        pc = subprogramEnd(after: pc)
                    } else {
                        fail = true
                    }
                case .assertion(let kind):
                    let holds: Bool
                    switch kind {
                    case .lineStart: holds = pos == 0 || text[pos - 1] == 0x0A
                    case .lineEnd: holds = pos == count || text[pos] == 0x0A
                    case .textStart: holds = pos == 0
                    case .textEnd: holds = pos == count
                    case .textEndBeforeNewline: holds = pos == count || (pos == count - 1 && text[pos] == 0x0A)
                    case .wordBoundary: holds = isWord(pos - 1) != isWord(pos)
                    case .notWordBoundary: holds = isWord(pos - 1) == isWord(pos)
                    case .asciiWordBoundary: holds = isASCIIWord(pos - 1) != isASCIIWord(pos)
                    case .notAsciiWordBoundary: holds = isASCIIWord(pos - 1) == isASCIIWord(pos)
                    }
                    if holds { pc += 1 } else { fail = true }
                case .match:
                    return pos
                }
                if fail {
                    guard stack.count > base else { return nil }
                    let entry = stack.removeLast()
                    pc = Int(entry.pc)
                    pos = Int(entry.pos)
                    if entry.low >= 0 && entry.pos > entry.low {
                        stack.append((entry.pc, entry.pos - 1, entry.low))
                    }
                }
            }
        }

        /// Sub-programs of lookahead and atomic groups follow their instruction and end with
        /// `.match`; a `.jump` placed before them records where the main program continues.
        private func subprogramEnd(after pc: Int) -> Int {
            if case .jump(let target) = program[pc + 1] { return target }
            return pc + 1
        }
    }

    // MARK: - syntax tree

    indirect enum Node {
        case empty
        case scalar(UInt32, caseInsensitive: Bool)
        case set(CharacterSet)
        case any
        case anyButLineTerminator
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int, kind: RepetitionKind)
        case lookahead(Node, negated: Bool)
        case atomic(Node)
        case assertion(Assertion)
    }

    enum RepetitionKind { case greedy, lazy, possessive }

    struct Parser {
        let scalars: [UInt32]
        let pattern: String
        let flavor: Flavor
        var index = 0
        var depth = 0

        func failure(_ problem: String) -> CompileError { CompileError(pattern: pattern, problem: problem) }

        mutating func parseAll() throws(CompileError) -> Node {
            let node = try parseAlternation(caseInsensitive: false)
            if index < scalars.count { throw failure("unbalanced ')' at \(index)") }
            return node
        }

        var peek: UInt32? { index < scalars.count ? scalars[index] : nil }

        mutating func parseAlternation(caseInsensitive: Bool) throws(CompileError) -> Node {
            depth += 1
            defer { depth -= 1 }
            guard depth <= 64 else { throw failure("groups nested deeper than 64") }
            var branches: [Node] = [try parseSequence(caseInsensitive: caseInsensitive)]
            while peek == 0x7C {  // |
                index += 1
                branches.append(try parseSequence(caseInsensitive: caseInsensitive))
            }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        mutating func parseSequence(caseInsensitive: Bool) throws(CompileError) -> Node {
            var items: [Node] = []
            while let c = peek, c != 0x7C, c != 0x29 {
                var atom = try parseAtom(caseInsensitive: caseInsensitive)
                atom = try parseQuantifiers(atom)
                items.append(atom)
            }
            return items.count == 1 ? items[0] : .sequence(items)
        }

        mutating func parseQuantifiers(_ atom: Node) throws(CompileError) -> Node {
            var node = atom
            var stacked = 0
            while let c = peek {
                var minimum = 0, maximum = Int.max
                var counted = false
                switch c {
                case 0x2A: minimum = 0  // *
                case 0x2B: minimum = 1  // +
                case 0x3F: maximum = 1  // ?
                case 0x7B:  // {
                    guard let bounds = parseCountedBounds() else { return node }
                    (minimum, maximum) = bounds
                    counted = true
                default: return node
                }
                if !counted { index += 1 }
                var kind = RepetitionKind.greedy
                if peek == 0x3F {
                    kind = .lazy
                    index += 1
                } else if peek == 0x2B && !counted && flavor == .oniguruma {
                    kind = .possessive
                    index += 1
                } else if peek == 0x2B && counted {
                    throw failure("'+' after a counted repetition is not supported")
                }
                if case .assertion = node { throw failure("quantified assertion") }
                // `a**...*` nests repetitions without groups; the depth limit of groups bounds
                // the recursion of compiling them, this bounds it here.
                stacked += 1
                guard stacked <= 4 else { throw failure("more than 4 quantifiers in a row") }
                node = .repetition(node, min: minimum, max: maximum, kind: kind)
            }
            return node
        }

        /// `{n}`, `{n,}`, `{n,m}`, `{,m}`; nil (and no input consumed) when `{` is a literal.
        mutating func parseCountedBounds() -> (Int, Int)? {
            var i = index + 1
            func number() -> Int? {
                var value: Int? = nil
                while i < scalars.count, scalars[i] >= 0x30, scalars[i] <= 0x39 {
                    value = (value ?? 0) * 10 + Int(scalars[i] - 0x30)
                    if value! > 100_000 { return nil }
                    i += 1
                }
                return value
            }
            let low = number()
            var high = low
            if i < scalars.count && scalars[i] == 0x2C {
                i += 1
                high = number() ?? Int.max
                if low == nil && high == Int.max { return nil }
            } else if low == nil {
                return nil
            }
            guard i < scalars.count, scalars[i] == 0x7D else { return nil }
            let minimum = low ?? 0
            guard let maximum = high, maximum >= minimum else { return nil }
            index = i + 1
            return (minimum, maximum)
        }

        mutating func parseAtom(caseInsensitive: Bool) throws(CompileError) -> Node {
            let c = scalars[index]
            switch c {
            case 0x28:  // (
                index += 1
                if peek == 0x3F {  // (?
                    index += 1
                    guard let kind = peek else { throw failure("unterminated group") }
                    index += 1
                    let node: Node
                    switch kind {
                    case 0x3A: node = try parseAlternation(caseInsensitive: caseInsensitive)  // (?:
                    case 0x3D: node = .lookahead(try parseAlternation(caseInsensitive: caseInsensitive), negated: false)
                    case 0x21: node = .lookahead(try parseAlternation(caseInsensitive: caseInsensitive), negated: true)
                    case 0x3E where flavor == .oniguruma: node = .atomic(try parseAlternation(caseInsensitive: caseInsensitive))
                    case 0x69 where flavor == .oniguruma:  // (?i: or (?i)
                        if peek == 0x3A {
                            index += 1
                            node = try parseAlternation(caseInsensitive: true)
                        } else if peek == 0x29 {
                            index += 1
                            let rest = try parseAlternation(caseInsensitive: true)
                            return rest  // the flag applies to the rest of the enclosing group
                        } else {
                            throw failure("unsupported group option")
                        }
                    default:
                        throw failure("unsupported group (?\(Character(Unicode.Scalar(kind) ?? "?"))")
                    }
                    guard peek == 0x29 else { throw failure("unterminated group") }
                    index += 1
                    return node
                }
                let node = try parseAlternation(caseInsensitive: caseInsensitive)
                guard peek == 0x29 else { throw failure("unterminated group") }
                index += 1
                return node
            case 0x5B:  // [
                index += 1
                return .set(try parseClass(caseInsensitive: caseInsensitive))
            case 0x2E:
                index += 1
                return flavor == .ecmaScript ? .anyButLineTerminator : .any
            case 0x5E:
                index += 1
                return .assertion(flavor == .ecmaScript ? .textStart : .lineStart)
            case 0x24:
                index += 1
                return .assertion(flavor == .ecmaScript ? .textEnd : .lineEnd)
            case 0x5C:
                index += 1
                return try parseEscape(caseInsensitive: caseInsensitive, inClass: false).node
            case 0x2A, 0x2B, 0x3F:
                throw failure("nothing to repeat at \(index)")
            default:
                index += 1
                return .scalar(c, caseInsensitive: caseInsensitive)
            }
        }

        struct Escape {
            var node: Node
            var set: CharacterSet? { if case .set(let s) = node { return s } else { return nil } }
            var scalar: UInt32? { if case .scalar(let c, _) = node { return c } else { return nil } }
        }

        mutating func parseEscape(caseInsensitive: Bool, inClass: Bool) throws(CompileError) -> Escape {
            guard let c = peek else { throw failure("trailing backslash") }
            index += 1
            func ascii(_ ranges: [ClosedRange<UInt32>], negated: Bool) throws(CompileError) -> Escape {
                if negated && inClass { throw failure("a negated class escape inside a class is not supported") }
                var s = CharacterSet()
                s.ranges = ranges
                s.negated = negated
                return Escape(node: .set(s))
            }
            if flavor == .ecmaScript {
                let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20]
                let digit: [ClosedRange<UInt32>] = [0x30...0x39]
                let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]
                switch c {
                case 0x73: return try ascii(space, negated: false)
                case 0x53: return try ascii(space, negated: true)
                case 0x64: return try ascii(digit, negated: false)
                case 0x44: return try ascii(digit, negated: true)
                case 0x77: return try ascii(word, negated: false)
                case 0x57: return try ascii(word, negated: true)
                case 0x62 where !inClass: return Escape(node: .assertion(.asciiWordBoundary))
                case 0x42 where !inClass: return Escape(node: .assertion(.notAsciiWordBoundary))
                case 0x70, 0x50: throw failure("\\p is not ECMAScript")
                default: break
                }
            }
            func set(_ property: UnicodeTables.Property, negated: Bool) -> Escape {
                var s = CharacterSet()
                if negated { s.negatedProperties = property.rawValue } else { s.properties = property.rawValue }
                return Escape(node: .set(s))
            }
            switch c {
            case 0x73: return set(.onigurumaSpace, negated: false)  // s
            case 0x53: return set(.onigurumaSpace, negated: true)
            case 0x64: return set(.onigurumaDigit, negated: false)  // d
            case 0x44: return set(.onigurumaDigit, negated: true)
            case 0x77: return set(.onigurumaWord, negated: false)  // w
            case 0x57: return set(.onigurumaWord, negated: true)
            case 0x70, 0x50:  // p, P
                var s = try parseProperty()
                if c == 0x50 {
                    swap(&s.categories, &s.categoryComplement)
                    s.hasCategoryComplement.toggle()
                }
                return Escape(node: .set(s))
            case 0x6E: return Escape(node: .scalar(0x0A, caseInsensitive: false))
            case 0x72: return Escape(node: .scalar(0x0D, caseInsensitive: false))
            case 0x74: return Escape(node: .scalar(0x09, caseInsensitive: false))
            case 0x66: return Escape(node: .scalar(0x0C, caseInsensitive: false))
            case 0x76: return Escape(node: .scalar(0x0B, caseInsensitive: false))
            case 0x61: return Escape(node: .scalar(0x07, caseInsensitive: false))
            case 0x65: return Escape(node: .scalar(0x1B, caseInsensitive: false))
            case 0x78:  // \xHH or \x{H...}
                return Escape(node: .scalar(try parseHex(braced: peek == 0x7B, digits: 2), caseInsensitive: false))
            case 0x75:  // \uHHHH
                return Escape(node: .scalar(try parseHex(braced: false, digits: 4), caseInsensitive: false))
            case 0x62 where !inClass: return Escape(node: .assertion(.wordBoundary))
            case 0x42 where !inClass: return Escape(node: .assertion(.notWordBoundary))
            case 0x41 where !inClass: return Escape(node: .assertion(.textStart))
            case 0x7A where !inClass: return Escape(node: .assertion(.textEnd))
            case 0x5A where !inClass: return Escape(node: .assertion(.textEndBeforeNewline))
            default:
                let isLetterOrDigit = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                if isLetterOrDigit { throw failure("unsupported escape \\\(Character(Unicode.Scalar(c)!))") }
                return Escape(node: .scalar(c, caseInsensitive: caseInsensitive))
            }
        }

        mutating func parseHex(braced: Bool, digits: Int) throws(CompileError) -> UInt32 {
            if braced { index += 1 }
            var value: UInt32 = 0
            var count = 0
            while let c = peek, let digit = Character(Unicode.Scalar(c)!).hexDigitValue, braced || count < digits {
                value = value &* 16 &+ UInt32(digit)
                count += 1
                index += 1
                if count > 8 { throw failure("hex escape too long") }
            }
            if braced {
                guard peek == 0x7D else { throw failure("unterminated \\x{...}") }
                index += 1
            }
            guard count > 0, value < 0x110000, !(0xD800..<0xE000).contains(value) else { throw failure("bad hex escape") }
            return value
        }

        mutating func parseProperty() throws(CompileError) -> CharacterSet {
            guard peek == 0x7B else { throw failure("\\p without {...}") }
            index += 1
            var name = ""
            while let c = peek, c != 0x7D {
                name.unicodeScalars.append(Unicode.Scalar(c)!)
                index += 1
            }
            guard peek == 0x7D else { throw failure("unterminated \\p{") }
            index += 1
            var negated = false
            if name.hasPrefix("^") {
                negated = true
                name.removeFirst()
            }
            let groups: [String: [String]] = [
                "L": ["Lu", "Ll", "Lt", "Lm", "Lo"], "M": ["Mn", "Mc", "Me"], "N": ["Nd", "Nl", "No"],
                "P": ["Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po"], "S": ["Sm", "Sc", "Sk", "So"], "Z": ["Zs", "Zl", "Zp"],
                "C": ["Cc", "Cf", "Co", "Cn"], "LC": ["Lu", "Ll", "Lt"],
            ]
            let members = groups[name] ?? (UnicodeTables.categoryNames.contains(name) ? [name] : nil)
            guard let members else { throw failure("unsupported property \\p{\(name)}") }
            var mask: UInt32 = 0
            for member in members {
                mask |= 1 << UInt32(UnicodeTables.categoryNames.firstIndex(of: member)!)
            }
            var set = CharacterSet()
            if negated {
                set.categoryComplement = mask
                set.hasCategoryComplement = true
            } else {
                set.categories = mask
            }
            return set
        }

        /// `[...]` after the `[`: items are scalars, ranges, escapes and properties. Inside
        /// `(?i:...)` a single ASCII letter also matches its other spellings; a letter range there
        /// is refused.
        mutating func parseClass(caseInsensitive: Bool) throws(CompileError) -> CharacterSet {
            var result = CharacterSet()
            if peek == 0x5E {
                result.negated = true
                index += 1
            }
            var first = true
            while true {
                guard let c = peek else { throw failure("unterminated character class") }
                if c == 0x5D && !first { index += 1; break }
                first = false
                if c == 0x5B { throw failure("nested character classes are not supported") }
                if c == 0x26 && index + 1 < scalars.count && scalars[index + 1] == 0x26 {
                    throw failure("class intersection '&&' is not supported")
                }
                var low: UInt32
                index += 1
                if c == 0x5C {
                    let escape = try parseEscape(caseInsensitive: false, inClass: true)
                    if let set = escape.set {
                        result.formUnion(set)
                        continue
                    }
                    guard let scalar = escape.scalar else { throw failure("unsupported escape in a class") }
                    low = scalar
                } else {
                    low = c
                }
                if peek == 0x2D, index + 1 < scalars.count, scalars[index + 1] != 0x5D {
                    index += 1
                    var high = scalars[index]
                    index += 1
                    if high == 0x5C {
                        guard let scalar = try parseEscape(caseInsensitive: false, inClass: true).scalar else {
                            throw failure("bad range end")
                        }
                        high = scalar
                    }
                    guard high >= low else { throw failure("empty range") }
                    if caseInsensitive && (low...high).overlaps(0x41...0x7A) {
                        throw failure("a letter range inside (?i) is not supported")
                    }
                    result.ranges.append(low...high)
                } else if caseInsensitive, let spellings = Compiler.caseSpellings(low) {
                    result.ranges += [spellings.0...spellings.0, spellings.1...spellings.1, spellings.2...spellings.2]
                } else {
                    if caseInsensitive && low >= 0x80 { throw failure("case-insensitive non-ASCII literal") }
                    result.ranges.append(low...low)
                }
            }
            return result
        }
    }

    // MARK: - compilation

    struct Compiler {
        var program: [Instruction] = []
        var sets: [CharacterSet] = []

        mutating func addSet(_ set: CharacterSet) -> Int {
            sets.append(set)
            return sets.count - 1
        }

        static func canBeEmpty(_ node: Node) -> Bool {
            switch node {
            case .empty, .lookahead, .assertion: return true
            case .scalar, .set, .any, .anyButLineTerminator: return false
            case .sequence(let items): return items.allSatisfy(canBeEmpty)
            case .alternation(let branches): return branches.contains(where: canBeEmpty)
            case .repetition(let inner, let minimum, _, _): return minimum == 0 || canBeEmpty(inner)
            case .atomic(let inner): return canBeEmpty(inner)
            }
        }

        mutating func emit(_ node: Node, pattern: String) throws(CompileError) {
            switch node {
            case .empty:
                break
            case .scalar(let c, let caseInsensitive):
                if caseInsensitive, let spellings = Self.caseSpellings(c) {
                    program.append(.scalarEither(spellings.0, spellings.1, spellings.2))
                } else if caseInsensitive && c >= 0x80 {
                    throw CompileError(pattern: pattern, problem: "case-insensitive non-ASCII literal")
                } else {
                    program.append(.scalar(c))
                }
            case .set(let set):
                program.append(.set(addSet(set)))
            case .any:
                program.append(.any)
            case .anyButLineTerminator:
                program.append(.anyButLineTerminator)
            case .sequence(let items):
                for item in items { try emit(item, pattern: pattern) }
            case .alternation(let branches):
                var jumps: [Int] = []
                for (i, branch) in branches.enumerated() {
                    if i < branches.count - 1 {
                        let split = program.count
                        program.append(.split(split + 1, -1))
                        try emit(branch, pattern: pattern)
                        jumps.append(program.count)
                        program.append(.jump(-1))
                        program[split] = .split(split + 1, program.count)
                    } else {
                        try emit(branch, pattern: pattern)
                    }
                }
                for j in jumps { program[j] = .jump(program.count) }
            case .repetition(let inner, let minimum, let maximum, let kind):
                if kind == .possessive {
                    try emitSubprogram(.repetition(inner, min: minimum, max: maximum, kind: .greedy), lookahead: nil, pattern: pattern)
                    return
                }
                if maximum != Int.max && maximum > 10_000 || minimum > 10_000 {
                    throw CompileError(pattern: pattern, problem: "repetition count too large")
                }
                if kind == .greedy, let single = Self.singleSet(inner) {
                    program.append(.repeatSet(set: addSet(single), min: minimum, max: maximum))
                    return
                }
                if maximum == Int.max && Self.canBeEmpty(inner) {
                    throw CompileError(pattern: pattern, problem: "unbounded repetition of something that can match empty")
                }
                for _ in 0..<minimum {
                    try emit(inner, pattern: pattern)
                    if program.count > 100_000 { throw CompileError(pattern: pattern, problem: "the compiled pattern is too large") }
                }
                if maximum == Int.max {
                    let loop = program.count
                    program.append(.split(-1, -1))
                    try emit(inner, pattern: pattern)
                    program.append(.jump(loop))
                    program[loop] = kind == .greedy ? .split(loop + 1, program.count) : .split(program.count, loop + 1)
                } else if maximum > minimum {
                    var splits: [Int] = []
                    for _ in minimum..<maximum {
                        splits.append(program.count)
                        program.append(.split(-1, -1))
                        try emit(inner, pattern: pattern)
                        if program.count > 100_000 { throw CompileError(pattern: pattern, problem: "the compiled pattern is too large") }
                    }
                    for s in splits {
                        program[s] = kind == .greedy ? .split(s + 1, program.count) : .split(program.count, s + 1)
                    }
                }
            case .lookahead(let inner, let negated):
                try emitSubprogram(inner, lookahead: negated, pattern: pattern)
            case .atomic(let inner):
                try emitSubprogram(inner, lookahead: nil, pattern: pattern)
            case .assertion(let kind):
                program.append(.assertion(kind))
            }
        }

        /// `[instruction] [jump over] [sub-program] [match]`, then the main program continues.
        private mutating func emitSubprogram(_ inner: Node, lookahead: Bool?, pattern: String) throws(CompileError) {
            let head = program.count
            program.append(.match)  // placeholder
            program.append(.jump(-1))
            let start = program.count
            try emit(inner, pattern: pattern)
            program.append(.match)
            program[head + 1] = .jump(program.count)
            if let negated = lookahead {
                program[head] = .lookahead(start: start, negated: negated)
            } else {
                program[head] = .atomic(start: start)
            }
        }

        /// Scalars every match of `node` contains: a sequence needs those of each item, an
        /// alternation those all its branches need, a repetition those of one iteration when
        /// it has one, a positive lookahead those of its text (at or after where it looks).
        static func requiredScalars(_ node: Node) -> Set<UInt32> {
            switch node {
            case .scalar(let c, let caseInsensitive): return caseInsensitive && caseSpellings(c) != nil ? [] : [c]
            case .sequence(let items): return items.reduce(into: Set<UInt32>()) { $0.formUnion(requiredScalars($1)) }
            case .alternation(let branches):
                guard var common = branches.first.map(requiredScalars) else { return [] }
                for branch in branches.dropFirst() { common.formIntersection(requiredScalars(branch)) }
                return common
            case .repetition(let inner, let minimum, _, _): return minimum > 0 ? requiredScalars(inner) : []
            case .atomic(let inner): return requiredScalars(inner)
            case .lookahead(let inner, let negated): return negated ? [] : requiredScalars(inner)
            case .empty, .set, .any, .anyButLineTerminator, .assertion: return []
            }
        }

        static func singleSet(_ node: Node) -> CharacterSet? {
            switch node {
            case .set(let set): return set
            case .scalar(let c, let caseInsensitive) where !caseInsensitive || caseSpellings(c) == nil:
                var set = CharacterSet()
                set.ranges = [c...c]
                return caseInsensitive && c >= 0x80 ? nil : set
            default: return nil
            }
        }

        /// The spellings Oniguruma's case folding matches for an ASCII letter: both cases, plus
        /// U+017F for s and U+212A for k (they fold to those letters).
        static func caseSpellings(_ c: UInt32) -> (UInt32, UInt32, UInt32)? {
            let lower: UInt32
            switch c {
            case 0x41...0x5A: lower = c + 0x20
            case 0x61...0x7A: lower = c
            default: return nil
            }
            let upper = lower - 0x20
            let extra: UInt32 = lower == 0x73 ? 0x17F : (lower == 0x6B ? 0x212A : lower)
            return (lower, upper, extra)
        }
    }
}
