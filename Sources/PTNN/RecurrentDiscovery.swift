import PTTensor
import PTCheckpoint
import PTKernels

/// A recurrent layer or cell recognised in a checkpoint from its state-dict keys
/// (`weight_ih_l0`, `weight_hh_l0`, …, or a cell's `weight_ih`, `weight_hh`) and, when the file
/// pickled the module, its attributes.
public struct RecurrentModule: Equatable, Sendable {
    /// Key prefix (`encoder.rnn`, or `""` for a bare state dict).
    public let prefix: String
    /// Kind, sizes, layers, directions, bias and projection from the shapes; nonlinearity and
    /// batch_first as pickled, else tanh and false.
    public let config: RecurrentConfig
    /// The pickled module's nonlinearity (`nonlinearity`, or from `mode`: `RNN_TANH`,
    /// `RNN_RELU`); nil for a state dict.
    public let pickledNonlinearity: String?
    /// The pickled module's `batch_first`; nil for a state dict.
    public let pickledBatchFirst: Bool?

    /// The configuration to run with: `options` give what the file does not record and must
    /// agree with what it does.
    /// - Throws: `NNError.optionContradictsPickled`, `.optionNotApplicable`.
    public func configuration(options: ModuleOptions) throws(NNError) -> RecurrentConfig {
        var config = self.config
        let name = prefix.isEmpty ? "the module" : "'\(prefix)'"
        if let pickled = pickledNonlinearity.flatMap(Activation.init(rawValue:)) {
            if let asked = options.nonlinearity, asked != pickled {
                throw .optionContradictsPickled(.nonlinearity(asked), pickled: .nonlinearity(pickled), module: name)
            }
        } else if let asked = options.nonlinearity {
            guard config.kind == .rnn else {
                throw .optionNotApplicable(.nonlinearity(asked), module: name, kind: config.kind)
            }
            config.nonlinearity = asked
        }
        if let pickled = pickledBatchFirst {
            if let asked = options.batchFirst, asked != pickled {
                throw .optionContradictsPickled(.batchFirst(asked), pickled: .batchFirst(pickled), module: name)
            }
        } else {
            config.batchFirst = options.batchFirst ?? false
        }
        return config
    }

    /// Finds every recurrent module in `checkpoint`, in key order. Shapes that fit no recurrent
    /// layer are left out; `Recurrent`'s strict loader reports exactly what is wrong with them.
    public static func discover(in checkpoint: Checkpoint) -> [RecurrentModule] {
        discover(in: checkpoint, parameters: ModuleParameters(checkpoint))
    }

    /// `discover(in:)` over parameters already collected (weight-normed weights under the names
    /// their modules use).
    public static func discover(in checkpoint: Checkpoint, parameters: ModuleParameters) -> [RecurrentModule] {
        let shapes = Shapes(parameters)
        var found: [RecurrentModule] = []
        var seen: Set<ExactName> = []
        for t in parameters.entries {
            for (suffix, isCell) in [("weight_hh_l0", false), ("weight_hh", true)] {
                guard let prefix = t.key.isExactly(suffix) ? "" : t.key.droppingExactSuffix("." + suffix) else {
                    continue
                }
                guard !seen.contains(ExactName(prefix)) else { continue }
                let module = checkpoint.module(at: prefix)
                if let layer = recognise(prefix: prefix, isCell: isCell, shapes: shapes, module: module) {
                    seen.insert(ExactName(prefix))
                    found.append(layer)
                }
            }
        }
        return found
    }

    /// Why keys that look recurrent (`weight_ih_l0`, `weight_hh_l0`, `weight_ih`, `weight_hh`) make
    /// no layer, for a checkpoint where `discover` finds none; nil when there are no such keys.
    public static func whyNone(in checkpoint: Checkpoint) -> NNError.NoRecurrentModule? {
        let parameters = ModuleParameters(checkpoint)
        if let first = parameters.unknown.first { return .parametrization(key: first.key, first.why) }
        let shapes = Shapes(parameters)
        for t in parameters.entries {
            for (name, partner) in [("weight_ih_l0", "weight_hh_l0"), ("weight_hh_l0", "weight_ih_l0"),
                                    ("weight_ih", "weight_hh"), ("weight_hh", "weight_ih")] {
                guard let stem = t.key.isExactly(name) ? "" : t.key.droppingExactSuffix(name),
                      stem.isEmpty || stem.hasSuffix(".") else { continue }
                let other = stem + partner
                guard let otherShape = shapes[other] else {
                    return .noPartner(key: t.key, partner: other)
                }
                let (ih, hh) = name.hasPrefix("weight_ih") ? (t.shape, otherShape) : (otherShape, t.shape)
                let (ihKey, hhKey) = name.hasPrefix("weight_ih") ? (t.key, other) : (other, t.key)
                return .shapesFitNoLayer(ihKey: ihKey, ihShape: ih, hhKey: hhKey, hhShape: hh)
            }
        }
        return nil
    }

    /// The shape of each key (its first occurrence), keys compared exactly.
    struct Shapes {
        private var table: [ExactName: [Int]] = [:]

        init(_ parameters: ModuleParameters) {
            for p in parameters.entries where table[ExactName(p.key)] == nil { table[ExactName(p.key)] = p.shape }
        }

        subscript(key: String) -> [Int]? { table[ExactName(key)] }
    }

    static func recognise(prefix: String, isCell: Bool, shapes: Shapes, module: ModuleInfo?) -> RecurrentModule? {
        func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
        let layerSuffix = isCell ? "" : "_l0"
        // Lenient on purpose: the gate count comes from weight_ih's rows and the hidden size
        // from weight_hh (or weight_hr), so that a wrong weight_hh is still recognised and the
        // strict loader can say exactly what shape it should have.
        guard let hh = shapes[key("weight_hh" + layerSuffix)], let ih = shapes[key("weight_ih" + layerSuffix)],
              hh.count == 2, ih.count == 2, hh[1] > 0 else { return nil }
        var projSize = 0
        var hidden = hh[1]
        if !isCell, let hr = shapes[key("weight_hr_l0")], hr.count == 2 {
            projSize = hr[0]
            hidden = hr[1]
        }
        guard hidden > 0, ih[0] % hidden == 0 else { return nil }
        let kind: RecurrentConfig.Kind
        switch ih[0] / hidden {
        case 1: kind = .rnn
        case 3: kind = .gru
        case 4: kind = .lstm
        default: return nil
        }
        if projSize > 0 && kind != .lstm { return nil }
        var layers = 1
        if !isCell {
            while shapes[key("weight_ih_l\(layers)")] != nil { layers += 1 }
        }
        var nonlinearity: String?
        var batchFirst: Bool?
        if let module {
            if case .string(let s)? = module.value("nonlinearity") { nonlinearity = s }
            if case .bool(let b)? = module.value("batch_first") { batchFirst = b }
            if case .string(let mode)? = module.value("mode") {
                // RNNBase.mode: 'LSTM', 'GRU', 'RNN_TANH', 'RNN_RELU'.
                if mode == "RNN_RELU" { nonlinearity = "relu" }
                if mode == "RNN_TANH" { nonlinearity = "tanh" }
            }
        }
        let config = RecurrentConfig(
            kind: kind, nonlinearity: nonlinearity.flatMap(Activation.init(rawValue:)) ?? .tanh,
            inputSize: ih[1], hiddenSize: hidden, numLayers: layers,
            bidirectional: !isCell && shapes[key("weight_ih_l0_reverse")] != nil,
            bias: shapes[key("bias_ih" + layerSuffix)] != nil, projSize: projSize,
            batchFirst: batchFirst ?? false, isCell: isCell)
        return RecurrentModule(prefix: prefix, config: config, pickledNonlinearity: nonlinearity,
                               pickledBatchFirst: batchFirst)
    }
}
