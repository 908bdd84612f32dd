import ArgumentParser

/// Token ids written as a comma-separated list: `1,17,42`.
struct TokenList: ExpressibleByArgument, Sendable {
    var ids: [Int]

    init?(argument: String) {
        var ids: [Int] = []
        for part in argument.split(separator: ",") {
            guard let id = Int(part.filter { $0 != " " }), id >= 0 else { return nil }
            ids.append(id)
        }
        guard !ids.isEmpty else { return nil }
        self.ids = ids
    }

    static var defaultCompletionKind: CompletionKind { .default }
}
