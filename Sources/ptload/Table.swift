/// Left-aligned columns, two spaces apart, indented by two; trailing blanks trimmed.
func renderTable(header: [String], rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        var text = "  "
        for (i, cell) in cells.enumerated() {
            text += cell + String(repeating: " ", count: widths[i] - cell.count + (i == cells.count - 1 ? 0 : 2))
        }
        while text.hasSuffix(" ") { text.removeLast() }
        return text + "\n"
    }
    return line(header) + rows.map(line).joined()
}
