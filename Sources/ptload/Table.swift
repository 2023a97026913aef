/// Left-aligned columns, two spaces apart, indented by two; trailing blanks trimmed.
func renderTable(header: [String], rows: [[String]]) -> String {
    var out = ""
    streamTable(header: header, count: rows.count, row: { rows[$0] }) { out += $0 }
    return out
}

/// `renderTable` for many rows, without holding them: `row(i)` is asked twice, once to size the
/// columns and once to print, and each line goes to `write` as it is made.
func streamTable(header: [String], count: Int, row: (Int) -> [String], write: (String) -> Void) {
    var widths = header.map(\.count)
    for r in 0..<count { for (i, cell) in row(r).enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        var text = "  "
        for (i, cell) in cells.enumerated() {
            text += cell + String(repeating: " ", count: widths[i] - cell.count + (i == cells.count - 1 ? 0 : 2))
        }
        while text.hasSuffix(" ") { text.removeLast() }
        return text + "\n"
    }
    write(line(header))
    for r in 0..<count { write(line(row(r))) }
}
