/// Plain-text tables for terminals and logs: columns padded to a common
/// width, two spaces apart, no trailing spaces.
enum TextTable {
    static func lines(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let header = rows.first else { return [] }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                rightAligned.contains(column) ? cell.padding(toLeft: widths[column]) : cell.padding(to: widths[column])
            }.joined(separator: "  ").trailingSpacesRemoved()
        }
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }

    func padding(toLeft width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }

    func trailingSpacesRemoved() -> String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }

    func replacingNewlines() -> String {
        String(map { $0 == "\n" ? " " : $0 })
    }
}
