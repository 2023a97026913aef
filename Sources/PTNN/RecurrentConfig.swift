import PTCheckpoint
import PTKernels

/// What the weights and the pickled module cannot tell, from the command line.
public struct ModuleOptions: Equatable {
    public var batchFirst: Bool?
    public var nonlinearity: Activation?
    public init(batchFirst: Bool? = nil, nonlinearity: Activation? = nil) {
        self.batchFirst = batchFirst
        self.nonlinearity = nonlinearity
    }
}

/// The configuration of a `torch.nn` recurrent layer or cell (`torch/nn/modules/rnn.py`).
public struct RecurrentConfig: Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable { case rnn = "RNN", lstm = "LSTM", gru = "GRU" }

    public var kind: Kind
    /// RNN only (`nonlinearity`); LSTM and GRU use their fixed gates.
    public var nonlinearity: Activation
    public var inputSize: Int
    public var hiddenSize: Int
    public var numLayers: Int
    public var bidirectional: Bool
    public var bias: Bool
    /// LSTM projection (`proj_size`); 0 without.
    public var projSize: Int
    public var batchFirst: Bool
    /// `RNNCell`, `LSTMCell`, `GRUCell`: one step, keys without `_l{k}`.
    public var isCell: Bool

    public init(kind: Kind, nonlinearity: Activation = .tanh, inputSize: Int, hiddenSize: Int, numLayers: Int = 1,
                bidirectional: Bool = false, bias: Bool = true, projSize: Int = 0, batchFirst: Bool = false,
                isCell: Bool = false) {
        self.kind = kind
        self.nonlinearity = nonlinearity
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bidirectional = bidirectional
        self.bias = bias
        self.projSize = projSize
        self.batchFirst = batchFirst
        self.isCell = isCell
    }

    /// Gate rows per hidden unit: i,f,g,o for LSTM, r,z,n for GRU, one for RNN.
    public var gates: Int {
        switch kind {
        case .rnn: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
    public var directions: Int { bidirectional ? 2 : 1 }
    /// `Hout`: the size of h (proj_size when projecting).
    public var outputSize: Int { projSize > 0 ? projSize : hiddenSize }

    /// `LSTM(5, 4, num_layers=2, bidirectional=True)`, as PyTorch prints modules.
    public var description: String {
        let name = kind.rawValue + (isCell ? "Cell" : "")
        var parts = ["\(inputSize)", "\(hiddenSize)"]
        if !isCell && numLayers != 1 { parts.append("num_layers=\(numLayers)") }
        if !bias { parts.append("bias=False") }
        if kind == .rnn && nonlinearity == .relu { parts.append("nonlinearity='relu'") }
        if !isCell && batchFirst { parts.append("batch_first=True") }
        if bidirectional { parts.append("bidirectional=True") }
        if projSize > 0 { parts.append("proj_size=\(projSize)") }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }

    /// Every weight the module owns, relative to its prefix, with the shape it must have, in
    /// `state_dict()` order.
    public var expectedWeights: [(name: String, shape: [Int])] {
        var out: [(String, [Int])] = []
        let rows = gates * hiddenSize
        for layer in 0..<(isCell ? 1 : numLayers) {
            for direction in 0..<(isCell ? 1 : directions) {
                let suffix = isCell ? "" : "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let input = layer == 0 ? inputSize : outputSize * directions
                out.append(("weight_ih" + suffix, [rows, input]))
                out.append(("weight_hh" + suffix, [rows, outputSize]))
                if bias {
                    out.append(("bias_ih" + suffix, [rows]))
                    out.append(("bias_hh" + suffix, [rows]))
                }
                if projSize > 0 { out.append(("weight_hr" + suffix, [projSize, hiddenSize])) }
            }
        }
        return out
    }

    /// Infers the configuration of the recurrent module at `prefix`: kind, sizes, layers,
    /// directions, bias and projection from its keys and shapes; nonlinearity and batch_first
    /// from the pickled module when the file has one, else from `options`.
    /// - Throws: `NNError` when the keys describe no recurrent layer or an option contradicts
    ///   the pickled module.
    public static func infer(prefix: String, in checkpoint: Checkpoint, options: ModuleOptions) throws -> RecurrentConfig {
        guard let info = RecurrentLayerInfo.discover(in: checkpoint).first(where: { $0.prefix == prefix }) else {
            let dot = prefix.isEmpty ? "" : prefix + "."
            if checkpoint.tensor(dot + "weight_ih_l0") == nil && checkpoint.tensor(dot + "weight_ih") == nil {
                throw NNError.unrecognised(prefix: prefix, why: "it has no \(dot)weight_ih_l0 or \(dot)weight_ih")
            }
            throw NNError.unrecognised(prefix: prefix, why: "the shapes of its weight_ih and weight_hh fit no RNN, LSTM or GRU")
        }
        let kind: Kind
        switch info.kind {
        case .RNN, .RNNCell: kind = .rnn
        case .LSTM, .LSTMCell: kind = .lstm
        case .GRU, .GRUCell: kind = .gru
        }
        var config = RecurrentConfig(kind: kind, inputSize: info.inputSize, hiddenSize: info.hiddenSize,
                                     numLayers: info.numLayers, bidirectional: info.bidirectional, bias: info.bias,
                                     projSize: info.projSize,
                                     isCell: [.RNNCell, .LSTMCell, .GRUCell].contains(info.kind))
        let name = prefix.isEmpty ? "the module" : "'\(prefix)'"
        if let pickled = info.nonlinearity.flatMap(Activation.init(rawValue:)) {
            if let asked = options.nonlinearity, asked != pickled {
                throw NNError.conflictingOption("--nonlinearity \(asked.rawValue) contradicts \(name)'s pickled nonlinearity '\(pickled.rawValue)'")
            }
            config.nonlinearity = pickled
        } else if let asked = options.nonlinearity {
            guard kind == .rnn else {
                throw NNError.conflictingOption("--nonlinearity applies to RNN modules; \(name) is an \(kind.rawValue)")
            }
            config.nonlinearity = asked
        }
        if let pickled = info.batchFirst {
            if let asked = options.batchFirst, asked != pickled {
                throw NNError.conflictingOption("--batch-first contradicts \(name)'s pickled batch_first=False")
            }
            config.batchFirst = pickled
        } else {
            config.batchFirst = options.batchFirst ?? false
        }
        return config
    }
}
