import PTCheckpoint
import PTTensor

/// A checkpoint's tensors as its modules see them: each stored tensor under its key, and each
/// weight that torch reparametrizes with weight norm under the name the module uses.
///
/// torch stores a weight-normed `weight_hh_l0` two ways, and computes the weight
/// `w = v · (g / ‖v‖)` from them on every forward (`torch._weight_norm`):
/// - `torch.nn.utils.weight_norm`: `weight_hh_l0_g` and `weight_hh_l0_v` beside the module's other keys;
/// - `torch.nn.utils.parametrizations.weight_norm`: `parametrizations.weight_hh_l0.original0` (g)
///   and `.original1` (v).
///
/// `‖v‖` is the 2-norm over every dimension but `dim` (torch's `norm_except_dim`), where `dim` is
/// the one dimension in which g is not 1 (dim 0, the default, gives g the shape `[rows, 1]`); a g of
/// ones everywhere is `dim=None`, the norm of the whole of v. Other parametrizations
/// (`parametrizations.X.original`: orthogonal, spectral norm; the old spectral norm's
/// `X_orig`/`X_u`/`X_v`) are listed in `unknown` so that loading can name them.
public struct ModuleParameters {
    /// The dimension weight norm keeps (`dim`), or none (`dim=None`: the norm of all of v).
    public enum NormAxis: Equatable, Sendable {
        case dimension(Int)
        case none
    }

    /// A stored tensor and its key.
    public struct StoredTensor {
        public let key: String
        public let tensor: Tensor
    }

    public enum Value {
        case stored(Tensor)
        /// `w = v · (g / ‖v‖)`, the norm taken over every dimension but the kept one.
        case weightNorm(g: StoredTensor, v: StoredTensor, kept: NormAxis)
    }

    public struct Entry {
        /// The key the module uses: `rnn.weight_hh_l0` for every way of storing it.
        public let key: String
        public let value: Value
        /// The weight's shape (v's for weight norm).
        public var shape: [Int] {
            switch value {
            case .stored(let t): return t.shape
            case .weightNorm(_, let v, _): return v.tensor.shape
            }
        }
        /// The stored keys behind it.
        public var storedKeys: [String] {
            switch value {
            case .stored: return [key]
            case .weightNorm(let g, let v, _): return [g.key, v.key]
            }
        }
    }

    /// Every parameter in the order of its first stored key.
    public let entries: [Entry]
    /// Weights under a parametrization ptload does not compute, by the key the module uses.
    public let unknown: [(key: String, why: NNError.ParametrizationFault)]
    private let index: [ExactName: Int]

    public init(_ checkpoint: Checkpoint) {
        let stored = checkpoint.tensors
        // Lookups go through the checkpoint's own index: no second table of every key.
        func named(_ key: String) -> StoredTensor? { checkpoint.tensor(key).map { StoredTensor(key: key, tensor: $0) } }

        var entries: [Entry] = []
        var unknown: [(key: String, why: NNError.ParametrizationFault)] = []
        var index: [ExactName: Int] = [:]
        var taken = Set<ExactName>()
        func add(_ entry: Entry) {
            guard index[ExactName(entry.key)] == nil else { return }
            index[ExactName(entry.key)] = entries.count
            entries.append(entry)
        }
        /// `key` as weight norm of `g` and `v` (both APIs store the same pair), or why not.
        func addWeightNorm(_ key: String, g: StoredTensor, v: StoredTensor) {
            if let kept = ModuleParameters.normAxis(g: g.tensor.shape, v: v.tensor.shape) {
                add(Entry(key: key, value: .weightNorm(g: g, v: v, kept: kept)))
            } else {
                unknown.append((key, .notWeightNorm(g: g.key, gShape: g.tensor.shape, v: v.key,
                                                    vShape: v.tensor.shape)))
            }
            taken.insert(ExactName(g.key))
            taken.insert(ExactName(v.key))
        }
        for t in stored where !taken.contains(ExactName(t.key)) {
            // torch.nn.utils.parametrizations: P.parametrizations.N.original0 / original1 / original.
            if let (module, name, leaf) = ModuleParameters.parametrized(t.key) {
                let key = module.isEmpty ? name : module + "." + name
                let base = (module.isEmpty ? "" : module + ".") + "parametrizations." + name + "."
                if leaf == "original0" || leaf == "original1",
                   let g = named(base + "original0"), let v = named(base + "original1") {
                    addWeightNorm(key, g: g, v: v)
                } else {
                    unknown.append((key, .otherParametrization(key: t.key)))
                    taken.insert(ExactName(t.key))
                }
                continue
            }
            // torch.nn.utils.weight_norm: N_g and N_v.
            if let stem = t.key.droppingExactSuffix("_g") ?? t.key.droppingExactSuffix("_v"),
               let g = named(stem + "_g"), let v = named(stem + "_v"), named(stem) == nil {
                addWeightNorm(stem, g: g, v: v)
                continue
            }
            // torch.nn.utils.spectral_norm (the old API): N_orig, N_u, N_v.
            if let stem = t.key.droppingExactSuffix("_orig"), named(stem + "_u") != nil, named(stem + "_v") != nil {
                unknown.append((stem, .spectralNorm(key: t.key)))
                for suffix in ["_orig", "_u", "_v"] { taken.insert(ExactName(stem + suffix)) }
                continue
            }
            add(Entry(key: t.key, value: .stored(t.tensor)))
        }
        self.entries = entries
        self.unknown = unknown
        self.index = index
    }

    /// The parameter the module calls `key`.
    public subscript(key: String) -> Entry? { index[ExactName(key)].map { entries[$0] } }

    /// Why `key` cannot be computed, when it is under a parametrization ptload does not know.
    public func whyUnknown(_ key: String) -> NNError.ParametrizationFault? {
        unknown.first { $0.key.isExactly(key) }?.why
    }

    /// (module path, parameter name, leaf) of `P.parametrizations.N.leaf`.
    static func parametrized(_ key: String) -> (String, String, String)? {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3, let at = parts.lastIndex(of: "parametrizations"), at == parts.count - 3 else {
            return nil
        }
        return (parts[..<at].joined(separator: "."), parts[at + 1], parts[at + 2])
    }

    /// The axis weight norm keeps, read off g's shape: the one dimension where g is not 1, or
    /// none when g is a scalar or all ones (where v is 1 too, every choice gives the same norm);
    /// nil when g does not fit v.
    static func normAxis(g: [Int], v: [Int]) -> NormAxis? {
        guard !v.isEmpty else { return nil }
        if g.isEmpty || (g.count == v.count && g.allSatisfy { $0 == 1 }) { return NormAxis.none }
        guard g.count == v.count else { return nil }
        let kept = g.indices.filter { g[$0] != 1 }
        guard kept.count == 1, g[kept[0]] == v[kept[0]] else { return nil }
        return .dimension(kept[0])
    }

    /// `v · (g / ‖v‖)` in float64 from the stored values, C order.
    /// - Throws: `TensorError` when g or v cannot be read.
    static func weightNorm(g: Tensor, v: Tensor, kept: NormAxis) throws -> [Double] {
        let gv = try g.doubles(), vv = try v.doubles()
        let shape = v.shape
        guard case .dimension(let dim) = kept else {
            let norm = vv.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = gv[0] / norm
            return vv.map { $0 * scale }
        }
        // Rows of the kept dimension: the elements with index i along `dim` form row i.
        let outer = shape[..<dim].reduce(1, *), size = shape[dim], inner = shape[(dim + 1)...].reduce(1, *)
        var sums = [Double](repeating: 0, count: size)
        for o in 0..<outer {
            for i in 0..<size {
                let base = (o * size + i) * inner
                for k in 0..<inner { sums[i] += vv[base + k] * vv[base + k] }
            }
        }
        let scales = (0..<size).map { gv[$0] / sums[$0].squareRoot() }
        var out = vv
        for o in 0..<outer {
            for i in 0..<size {
                let base = (o * size + i) * inner
                for k in 0..<inner { out[base + k] = vv[base + k] * scales[i] }
            }
        }
        return out
    }
}
