import PTKernels

/// What the weights cannot tell and a state dict does not record: the caller's say.
public struct ModuleOptions: Equatable, Sendable {
    public var batchFirst: Bool?
    public var nonlinearity: Activation?
    public init(batchFirst: Bool? = nil, nonlinearity: Activation? = nil) {
        self.batchFirst = batchFirst
        self.nonlinearity = nonlinearity
    }
}

/// The configuration of a `torch.nn` recurrent layer or cell (`torch/nn/modules/rnn.py`).
public struct RecurrentConfig: Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case rnn = "RNN", lstm = "LSTM", gru = "GRU"

        /// "an RNN", "an LSTM", "a GRU": the article the name's spoken initial takes.
        public var withArticle: String { (self == .gru ? "a " : "an ") + rawValue }
    }

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

    /// The torch.nn class: `LSTM`, `GRUCell`, …
    public var typeName: String { kind.rawValue + (isCell ? "Cell" : "") }

    /// `LSTM(5, 4, num_layers=2, bidirectional=True)`, as PyTorch prints modules.
    public var description: String {
        let name = typeName
        var parts = ["\(inputSize)", "\(hiddenSize)"]
        if !isCell && numLayers != 1 { parts.append("num_layers=\(numLayers)") }
        if !bias { parts.append("bias=False") }
        if kind == .rnn && nonlinearity == .relu { parts.append("nonlinearity='relu'") }
        if !isCell && batchFirst { parts.append("batch_first=True") }
        if bidirectional { parts.append("bidirectional=True") }
        if projSize > 0 { parts.append("proj_size=\(projSize)") }
        return "\(name)(\(parts.joined(separator: ", ")))"
    }
}
