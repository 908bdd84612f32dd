import Testing

/// One argument of a parameterized test whose list is read from the fixtures (a directory
/// listing, a JSON file). Swift Testing runs a test over an empty list as zero cases and
/// reports it as passed; a list made by `FixtureArgument.list` is never empty: when reading
/// fails or finds nothing it holds one argument whose `value()` throws, so the test fails and
/// says why.
struct FixtureArgument<Value: Sendable>: Sendable, CustomTestStringConvertible {
    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    private let result: Result<Value, Missing>
    let testDescription: String

    /// The argument; throws (failing the test) when the list could not be made.
    func value() throws -> Value { try result.get() }

    /// The values `read` returns, each described by `describe`; one failing argument when it
    /// throws or returns nothing.
    static func list(_ what: String, describe: (Value) -> String = { "\($0)" }, _ read: () throws -> [Value]) -> [FixtureArgument] {
        do {
            let values = try read()
            guard !values.isEmpty else { return [FixtureArgument(result: .failure(Missing(description: "\(what): none found")), testDescription: what)] }
            return values.map { FixtureArgument(result: .success($0), testDescription: describe($0)) }
        } catch {
            return [FixtureArgument(result: .failure(Missing(description: "\(what): \(error)")), testDescription: what)]
        }
    }
}
