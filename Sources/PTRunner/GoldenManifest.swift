import Foundation
import PTTensor
import PTZip

/// A golden manifest (`golden.json`, as ptload-golden, python/, writes it): the cases of one
/// model, each a reference `.npz` beside the manifest and the module it checks.
///
///     {"format": "ptload-golden", "format_version": 2, "torch_version": "2.15.0",
///      "model_class": "models.Seq2Seq", "checkpoint": "model.pt",
///      "cases": [{"name": "encoder#0", "npz": "encoder.call0.npz", "module": "encoder",
///                 "kind": "LSTM", "batch_first": false, "nonlinearity": null,
///                 "dtype": "float32", "input_dtype": "float32", "truth": "float64",
///                 "torch_distance": {"output": 3.2e-05, "h_n": 1.1e-05, "c_n": 9e-06}}, …]}
///
/// Version 2 (ptload-golden 2, `python/`): each case's truths come from a float64 copy of that
/// module alone, run on exactly the recorded input, and `torch_distance` says how far PyTorch's
/// own result is from them. A case is judged twice: ptload's float32 run against the truths
/// with the float32 defaults widened by `torch_distance`, and ptload's float64 run with the
/// float64 defaults; it passes when both do. Version 1 (truths from a second float64 run of the
/// whole model) is refused: re-export.
///
/// A manifest never makes ptload read outside its folder: a case's `npz` is a relative path
/// with no `..` component.
public struct GoldenManifest: Sendable {
    /// One recorded call of one module.
    public struct Case: Decodable, Sendable {
        /// Unique within the manifest: the module's dotted prefix, and `#k` for its k-th call.
        public let name: String
        /// The reference, relative to the manifest's folder.
        public let npz: String
        /// The module's prefix in the checkpoint.
        public let module: String
        /// For a pipeline case: the prefixes of its stages in order (an Embedding before the
        /// recurrent module, a Linear after it), as `--pipeline` takes them.
        public let pipeline: [String]?
        /// `LSTM`, `GRUCell`, … as recorded (informational).
        public let kind: String?
        public let batch_first: Bool?
        /// An RNN's `tanh` or `relu`.
        public let nonlinearity: String?
        /// The weights' dtype when recorded (informational).
        public let dtype: String?
        /// The dtype the expected outputs were computed in: `float64`, the exporter's truths.
        public let truth: String?
        /// The recorded input's dtype (bfloat16 inputs are stored widened to float32).
        public let input_dtype: String?
        /// Per output tensor: the largest |PyTorch's own result − truth|, the float32 verdict's
        /// allowance.
        public let torch_distance: [String: Double]?
    }

    private struct File: Decodable {
        let format: String?
        let format_version: Int?
        let torch_version: String?
        let model_class: String?
        let cases: [Case]?
    }

    public static let format = "ptload-golden"
    public static let supportedVersions = 2...2
    /// Larger manifests are refused before they are parsed.
    public static let maxBytes = 16 << 20
    public static let maxCases = 10_000

    public let path: String
    public let torchVersion: String?
    public let modelClass: String?
    public let cases: [Case]

    /// Whether `path` names a manifest rather than an array file.
    public static func isManifest(_ path: String) -> Bool { path.hasSuffix(".json") }

    /// Reads and checks the manifest at `path`.
    /// - Throws: `ModuleRunError.badManifest` naming the file (and the case) and what is wrong.
    public init(path: String) throws(ModuleRunError) {
        let mapped: MappedFile
        do {
            mapped = try MappedFile(path: path)
        } catch {
            guard case .cannotOpen(let reason) = error.reason else {
                throw .badManifest(file: path, .unreadable(systemMessage: nil))
            }
            throw .badManifest(file: path, .unreadable(systemMessage: reason))
        }
        try self.init(bytes: mapped.bytes, path: path)
    }

    /// Checks a manifest held in memory; `path` names it in errors and locates its references.
    /// - Throws: as `init(path:)`.
    public init(bytes: UnsafeRawBufferPointer, path: String) throws(ModuleRunError) {
        self.path = path
        func bad(_ fault: ManifestFault) -> ModuleRunError { .badManifest(file: path, fault) }
        func bad(_ c: Case, _ fault: ManifestFault) -> ModuleRunError {
            .inCase(manifest: path, name: c.name, .badManifest(file: path, fault))
        }
        let size = bytes.count
        guard size <= GoldenManifest.maxBytes else {
            throw bad(.tooLarge(bytes: size, limit: GoldenManifest.maxBytes))
        }
        if let why = StrictJSON.firstViolation(bytes) {
            throw bad(.notJSON(why))
        }
        let data = Data(bytes)
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: data)
        } catch {
            throw bad(.undecodable(GoldenManifest.describe(error)))
        }
        guard file.format == GoldenManifest.format else {
            throw bad(.wrongFormat(found: file.format, expected: GoldenManifest.format))
        }
        if file.format_version == 1 {
            throw bad(.version1)
        }
        guard let version = file.format_version, GoldenManifest.supportedVersions.contains(version) else {
            throw bad(.unsupportedVersion(found: file.format_version,
                                          reads: GoldenManifest.supportedVersions.upperBound))
        }
        guard let cases = file.cases, !cases.isEmpty else { throw bad(.noCases) }
        guard cases.count <= GoldenManifest.maxCases else {
            throw bad(.tooManyCases(count: cases.count, limit: GoldenManifest.maxCases))
        }
        var seen = Set<ExactName>()
        for c in cases {
            guard !c.name.isEmpty else { throw bad(.emptyCaseName) }
            guard seen.insert(ExactName(c.name)).inserted else { throw bad(.duplicateCase(c.name)) }
            if let why = GoldenManifest.unsafePath(c.npz) {
                throw bad(c, .npz(c.npz, why))
            }
            if let stages = c.pipeline, stages.isEmpty || !stages.contains(c.module) {
                throw bad(c, .pipelineLacksModule(stages: stages, module: c.module))
            }
            if let distance = c.torch_distance,
               let wrong = distance.first(where: { !($0.value >= 0 && $0.value.isFinite) }) {
                throw bad(c, .badTorchDistance(output: wrong.key, value: wrong.value))
            }
            if let n = c.nonlinearity, n != "tanh" && n != "relu" {
                throw bad(c, .badNonlinearity(n))
            }
        }
        torchVersion = file.torch_version
        modelClass = file.model_class
        self.cases = cases
    }

    /// The reference of `c`, in the manifest's folder once every symbolic link on the way is
    /// resolved (`realpath`): a link that leads out of the folder (`up -> ..`, a link to
    /// `/etc/hostname`) is refused before anything is read through it.
    /// - Throws: `ModuleRunError.inCase` with `.badManifest` naming the case's npz.
    public func npzPath(of c: Case) throws(ModuleRunError) -> String {
        func bad(_ why: NpzPathFault) -> ModuleRunError {
            .inCase(manifest: path, name: c.name, .badManifest(file: path, .npz(c.npz, why)))
        }
        let folder = (path as NSString).deletingLastPathComponent
        let joined = folder.isEmpty ? c.npz : folder + "/" + c.npz
        guard let root = GoldenManifest.resolved(folder.isEmpty ? "." : folder) else {
            throw bad(.folderUnresolved)
        }
        guard let target = GoldenManifest.resolved(joined) else {
            throw bad(.unreadable(systemMessage: String(cString: strerror(errno))))
        }
        let inside = root == "/" ? target.hasPrefix("/") : target.hasPrefix(root + "/")
        guard inside else { throw bad(.leavesFolderThroughLink) }
        return target
    }

    /// `path` with every symbolic link, `.` and `..` resolved, or nil (errno set).
    private static func resolved(_ path: String) -> String? {
        guard let raw = realpath(path, nil) else { return nil }
        defer { free(raw) }
        return String(validatingCString: raw)
    }

    /// Why `relative` could reach outside the manifest's folder, or nil when it cannot.
    static func unsafePath(_ relative: String) -> NpzPathFault? {
        if relative.isEmpty { return .empty }
        if relative.hasPrefix("/") || relative.hasPrefix("~") { return .absolute }
        if relative.unicodeScalars.contains(where: { $0.value < 0x20 || $0 == "\\" }) {
            return .controlOrBackslash
        }
        if relative.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." }) {
            return .parentComponent
        }
        return nil
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "'\(path(context.codingPath + [key]))' is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            return "'\(path(context.codingPath))' \(context.debugDescription.lowercased())"
        case DecodingError.dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not JSON" : "'\(path(context.codingPath))' is malformed"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            .trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }
}

/// What is wrong with a golden manifest (`ModuleRunError.badManifest`); each description is the
/// line after the manifest's path (and the case's name).
public enum ManifestFault: Equatable, Sendable, CustomStringConvertible {
    /// The file cannot be opened or mapped (`systemMessage`: the system's, when there is one).
    case unreadable(systemMessage: String?)
    case tooLarge(bytes: Int, limit: Int)
    /// Not RFC 8259 JSON: what the strict check met, and at which byte.
    case notJSON(String)
    /// JSON, but not a manifest's fields: the field and what the decoder found.
    case undecodable(String)
    case wrongFormat(found: String?, expected: String)
    /// format_version 1, whose truths came from a second float64 run of the whole model.
    case version1
    case unsupportedVersion(found: Int?, reads: Int)
    case noCases
    case tooManyCases(count: Int, limit: Int)
    case emptyCaseName
    case duplicateCase(String)
    /// The case's npz path `npz` cannot be used.
    case npz(String, NpzPathFault)
    case pipelineLacksModule(stages: [String], module: String)
    case badTorchDistance(output: String, value: Double)
    case badNonlinearity(String)

    public var description: String {
        switch self {
        case .unreadable(let message): return "cannot read the file" + (message.map { ": \($0)" } ?? "")
        case let .tooLarge(bytes, limit): return "is \(bytes) bytes; manifests of at most \(limit) bytes are read"
        case .notJSON(let why): return "not a golden manifest: not JSON: \(why)"
        case .undecodable(let why): return "not a golden manifest: \(why)"
        case let .wrongFormat(found, expected):
            return "format is \(found.map { "'\($0)'" } ?? "missing"); expected '\(expected)'"
        case .version1:
            return "format_version is 1, whose truths came from a second float64 run of the whole model; re-export"
                + " it with ptload-golden 2 (python/), which computes each call's truth from its recorded inputs"
        case let .unsupportedVersion(found, reads):
            return "format_version is \(found.map(String.init) ?? "missing"); this ptload reads \(reads)"
        case .noCases: return "holds no cases"
        case let .tooManyCases(count, limit): return "holds \(count) cases; at most \(limit) are run"
        case .emptyCaseName: return "a case has an empty name"
        case .duplicateCase(let name): return "case '\(name)' appears twice"
        case let .npz(npz, fault): return "npz '\(npz)' \(fault)"
        case let .pipelineLacksModule(stages, module): return "pipeline \(stages) does not hold its module '\(module)'"
        case let .badTorchDistance(output, value):
            return "torch_distance '\(output)' is \(value); expected a finite distance of at least 0"
        case .badNonlinearity(let name): return "nonlinearity is '\(name)'; expected tanh or relu"
        }
    }
}

/// Why a case's npz path cannot be used.
public enum NpzPathFault: Equatable, Sendable, CustomStringConvertible {
    case empty
    case absolute
    case controlOrBackslash
    case parentComponent
    case folderUnresolved
    /// `realpath` failed: the system's message.
    case unreadable(systemMessage: String)
    case leavesFolderThroughLink

    public var description: String {
        switch self {
        case .empty: return "is empty"
        case .absolute: return "is absolute; paths are relative to the manifest's folder"
        case .controlOrBackslash: return "holds a control character or a backslash"
        case .parentComponent: return "leaves the manifest's folder ('..')"
        case .folderUnresolved: return "cannot be found: the manifest's folder does not resolve"
        case .unreadable(let message): return "cannot be read: \(message)"
        case .leavesFolderThroughLink: return "leaves the manifest's folder through a symbolic link"
        }
    }
}
