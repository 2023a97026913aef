import PTZip

/// Which attributes of a TorchScript class are parameters and buffers.
///
/// `torch.jit.save` pickles a module's parameters, buffers and plain tensor attributes alike
/// into `data.pkl`; only the class's declaration in `code/` says which is which:
///
///     class LSTMCell(Module):
///       __parameters__ = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", ]
///       __buffers__ = []
///
/// ptload reads exactly these two list literals of string literals and nothing else of `code/`
/// (no other line is parsed, nothing is run). A missing file, class or malformed declaration
/// gives `nil`, and the walker then lists every tensor attribute.
final class ScriptDeclarations {
    struct Declaration: Equatable {
        let parameters: [String]
        let buffers: [String]
    }

    private let archive: ZipArchive
    private let prefix: String
    private var cache: [String: Declaration?] = [:]
    /// Code files larger than this are not read for declarations.
    static let maxCodeBytes = 16 << 20

    init(archive: ZipArchive, prefix: String) {
        self.archive = archive
        self.prefix = prefix
    }

    /// The declaration of `qualifiedName` (`__torch__.torch.nn.modules.rnn.LSTMCell`), if found.
    func declaration(of qualifiedName: String) -> Declaration? {
        if let cached = cache[qualifiedName] { return cached }
        let found = lookUp(qualifiedName)
        cache[qualifiedName] = found
        return found
    }

    private func lookUp(_ qualifiedName: String) -> Declaration? {
        let parts = qualifiedName.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty && !$0.contains("/") }) else { return nil }
        let className = String(parts[parts.count - 1])
        let file = prefix + "/code/" + parts.dropLast().joined(separator: "/") + ".py"
        guard let entry = archive.entry(named: file), entry.uncompressedSize <= ScriptDeclarations.maxCodeBytes,
              let bytes = try? archive.bytes(of: entry) else { return nil }
        let text = bytes.withUnsafeBytes { String(decoding: $0, as: UTF8.self) }
        return ScriptDeclarations.parse(text, className: className)
    }

    /// Finds `class NAME(` at the start of a line, then its `__parameters__` and `__buffers__`
    /// lines before the next class.
    static func parse(_ text: String, className: String) -> Declaration? {
        var inClass = false
        var parameters: [String]?
        var buffers: [String]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("class ") {
                if inClass { break }
                inClass = line.hasPrefix("class \(className)(")
                continue
            }
            guard inClass else { continue }
            let trimmed = line.drop { $0 == " " }
            if trimmed.hasPrefix("__parameters__ = ") {
                parameters = stringList(trimmed.dropFirst("__parameters__ = ".count))
                if parameters == nil { return nil }
            } else if trimmed.hasPrefix("__buffers__ = ") {
                buffers = stringList(trimmed.dropFirst("__buffers__ = ".count))
                if buffers == nil { return nil }
            }
            if let parameters, let buffers { return Declaration(parameters: parameters, buffers: buffers) }
        }
        return nil
    }

    /// `["a", "b", ]` → ["a", "b"]; anything else → nil. Names are identifiers.
    static func stringList(_ text: Substring) -> [String]? {
        var s = text.drop { $0 == " " }
        guard s.first == "[" else { return nil }
        s = s.dropFirst()
        var names: [String] = []
        while true {
            s = s.drop { $0 == " " || $0 == "," }
            guard let c = s.first else { return nil }
            if c == "]" { return s.dropFirst().allSatisfy({ $0 == " " || $0 == "\r" }) ? names : nil }
            guard c == "\"" else { return nil }
            s = s.dropFirst()
            let name = s.prefix { $0 != "\"" }
            guard name.count < s.count, !name.isEmpty,
                  name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return nil }
            names.append(String(name))
            s = s.dropFirst(name.count + 1)
        }
    }
}
