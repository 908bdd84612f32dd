// Arithmetic on values read from untrusted input: nil (or a located
// ParsingError) instead of a trap when the result does not fit.

infix operator *?: MultiplicationPrecedence
infix operator +?: AdditionPrecedence

extension FixedWidthInteger {
    /// `lhs * rhs`, or nil when the product overflows.
    @inlinable
    public static func *? (lhs: Self, rhs: Self) -> Self? {
        let (result, overflow) = lhs.multipliedReportingOverflow(by: rhs)
        return overflow ? nil : result
    }

    /// `lhs * rhs`, or nil when `lhs` is nil or the product overflows, so
    /// products chain: `a *? b *? c`.
    @inlinable
    public static func *? (lhs: Self?, rhs: Self) -> Self? {
        guard let lhs else { return nil }
        return lhs *? rhs
    }

    /// `lhs + rhs`, or nil when the sum overflows.
    @inlinable
    public static func +? (lhs: Self, rhs: Self) -> Self? {
        let (result, overflow) = lhs.addingReportingOverflow(rhs)
        return overflow ? nil : result
    }

    /// `lhs + rhs`, or nil when `lhs` is nil or the sum overflows.
    @inlinable
    public static func +? (lhs: Self?, rhs: Self) -> Self? {
        guard let lhs else { return nil }
        return lhs +? rhs
    }

    /// `self` rounded up to a multiple of `alignment` (a positive value), or
    /// nil when that overflows.
    @inlinable
    public func roundedUp(toMultipleOf alignment: Self) -> Self? {
        precondition(alignment > 0, "alignment must be positive")
        let remainder = self % alignment
        return remainder == 0 ? self : self +? (alignment - remainder)
    }
}

extension ParserSpan {
    /// `value` converted to `T`, or an overflow error located at `position`.
    public func converting<T: FixedWidthInteger>(
        _ value: some BinaryInteger, to type: T.Type = T.self, at position: Int
    ) throws(ParsingError) -> T {
        guard let converted = T(exactly: value) else { throw ParsingError(.overflow, at: position, in: source) }
        return converted
    }

    /// `a * b`, or an overflow error located at `position`.
    public func multiplying<T: FixedWidthInteger>(_ a: T, _ b: T, at position: Int) throws(ParsingError) -> T {
        guard let product = a *? b else { throw ParsingError(.overflow, at: position, in: source) }
        return product
    }

    /// `a + b`, or an overflow error located at `position`.
    public func adding<T: FixedWidthInteger>(_ a: T, _ b: T, at position: Int) throws(ParsingError) -> T {
        guard let sum = a +? b else { throw ParsingError(.overflow, at: position, in: source) }
        return sum
    }
}
