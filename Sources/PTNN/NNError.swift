import PTCheckpoint
import PTKernels
import PTTensor

/// Why a module could not be found, loaded or run. Descriptions name the dotted key or the
/// input, what was expected and what was found, in the library's words (`batch_first=True`,
/// `choose one by its prefix`). Options the caller gave are carried as values (`ModuleOption`),
/// so that a caller with other words for them (a command line's flags) words its own line.
public enum NNError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A key the module needs is not in the checkpoint: a `shape` tensor of `module`.
    case missingKey(key: String, shape: [Int], module: String)
    /// The weight `key` is stored under a parametrization ptload does not compute (weight norm it does).
    case unknownParametrization(key: String, ParametrizationFault)
    /// A key under the module's prefix that the module does not use.
    case unusedKey(key: String, module: String)
    /// A weight whose shape does not fit the configuration.
    case wrongShape(key: String, shape: [Int], expected: [Int], module: String)
    /// The weights at `prefix` do not describe a module ptload runs.
    case unrecognised(prefix: String, NotAModule)
    /// An option the caller gave contradicts the pickled module (`module`: "'prefix'" or "the module").
    case optionContradictsPickled(ModuleOption, pickled: ModuleOption, module: String)
    /// An option that means nothing for this kind of module.
    case optionNotApplicable(ModuleOption, module: String, kind: RecurrentConfig.Kind)
    /// No module has this name; `candidates` are every module prefix of the checkpoint.
    case noSuchModule(name: String, candidates: [String])
    /// Several modules end with `.name`.
    case ambiguousModule(name: String, matches: [String])
    /// The checkpoint holds no recurrent module (`why`: keys that look recurrent but fit none).
    case noRecurrentModule(why: NoRecurrentModule?)
    /// The checkpoint holds several recurrent modules and none was chosen.
    case severalRecurrentModules(prefixes: [String])
    /// An input, initial state or lengths array that does not fit the module.
    case badInput(InputFault)
    /// A bidirectional module (`module`, at `prefix`) asked to stream: its reverse direction
    /// starts from the sequence's last step, which no chunk before the last has.
    case bidirectionalStream(module: String, prefix: String)
    /// A weight whose dtype cannot be computed with (complex, integer).
    case unsupportedDType(key: String, dtype: String)
    /// A weight whose values cannot be read (a view repeating its storage beyond the limit).
    case unreadableWeight(key: String, TensorError)
    /// Reading a weight's bytes from the checkpoint failed (a storage record's CRC-32, say):
    /// the checkpoint layer's error, unchanged.
    case checkpoint(CheckpointError)

    public var description: String {
        switch self {
        case let .missingKey(key, shape, module): return "\(key) is missing; expected a \(shape) tensor of \(module)"
        case let .unusedKey(key, module): return "\(key) is not used by \(module)"
        case let .wrongShape(key, shape, expected, module):
            return "\(key) has shape \(shape); \(module) needs \(expected)"
        case let .unrecognised(prefix, why):
            return "'\(prefix.isEmpty ? "(root)" : prefix)' is not a recurrent module: \(why)"
        case let .optionContradictsPickled(option, pickled, module):
            return "\(option) contradicts \(module)'s pickled \(pickled)"
        case let .optionNotApplicable(option, module, kind):
            return "\(option.attribute) applies to RNN modules; \(module) is \(kind.withArticle)"
        case let .unknownParametrization(key, fault):
            return "\(key): \(fault)"
        case let .noSuchModule(name, candidates):
            let listed = ModuleCatalog.listed(candidates)
            return "no module '\(name)' in the checkpoint; modules: \(listed.isEmpty ? "none" : listed)"
        case let .ambiguousModule(name, matches):
            return "'\(name)' matches several modules: \(matches.joined(separator: ", ")); give the full prefix"
        case .noRecurrentModule(let why):
            return "the checkpoint holds no RNN, LSTM or GRU weights\(why.map { ": \($0)" } ?? "")"
        case .severalRecurrentModules(let prefixes):
            return "the checkpoint holds \(prefixes.count) recurrent modules (\(ModuleCatalog.listed(prefixes)));"
                + " choose one by its prefix"
        case .badInput(let fault): return fault.description
        case let .bidirectionalStream(module, prefix):
            return "\(prefix.isEmpty ? "the module" : "'\(prefix)'") (\(module)) cannot stream: its reverse direction"
                + " starts from the sequence's last step, which a chunk does not have"
        case let .unsupportedDType(key, dtype): return "\(key) is \(dtype); only floating-point weights can be run"
        case let .unreadableWeight(key, error): return "\(key): \(error)"
        case .checkpoint(let error): return error.description
        }
    }
}

extension NNError {
    /// A weight stored under a parametrization ptload does not compute
    /// (`torch/nn/utils/parametrizations.py`, `torch/nn/utils/spectral_norm.py`).
    public enum ParametrizationFault: CustomStringConvertible, Equatable, Sendable {
        /// `g` and `v` are stored as weight norm's pair, but their shapes (`gShape`, `vShape`)
        /// are not those of a weight norm.
        case notWeightNorm(g: String, gShape: [Int], v: String, vShape: [Int])
        /// `key` is under `parametrizations.` but is not weight norm's `original0`/`original1`
        /// (orthogonal, spectral norm, a user's own).
        case otherParametrization(key: String)
        /// `key` (`X_orig`) is the old spectral norm's, beside `X_u` and `X_v`.
        case spectralNorm(key: String)

        public var description: String {
            switch self {
            case let .notWeightNorm(g, gShape, v, vShape):
                return "'\(g)' \(gShape) and '\(v)' \(vShape) are no weight norm's g and v"
            case .otherParametrization(let key):
                return "'\(key)' is a parametrization ptload does not compute (it computes weight norm: original0 and"
                    + " original1)"
            case .spectralNorm(let key):
                return "'\(key)' is spectral norm, a parametrization ptload does not compute"
            }
        }
    }

    /// Why the keys under a prefix make no module ptload runs.
    public enum NotAModule: CustomStringConvertible, Equatable, Sendable {
        /// A weight the layer needs is under a parametrization ptload does not compute.
        case parametrization(ParametrizationFault)
        /// Neither a layer's nor a cell's input weight (`layerKey`, `cellKey`) is there.
        case noInputWeight(layerKey: String, cellKey: String)
        /// weight_ih and weight_hh are there, but their shapes fit no RNN, LSTM or GRU.
        case shapesFitNoLayer
        /// No recurrent weights and no `weightKey`: not a Linear or Embedding either.
        case noWeights(weightKey: String)

        public var description: String {
            switch self {
            case .parametrization(let fault): return fault.description
            case let .noInputWeight(layerKey, cellKey): return "it has no \(layerKey) or \(cellKey)"
            case .shapesFitNoLayer: return "the shapes of its weight_ih and weight_hh fit no RNN, LSTM or GRU"
            case .noWeights(let weightKey): return "it has neither recurrent weights nor \(weightKey)"
            }
        }
    }

    /// Why keys that look recurrent (`weight_ih_l0`, `weight_hh_l0`, `weight_ih`, `weight_hh`)
    /// make no layer.
    public enum NoRecurrentModule: CustomStringConvertible, Equatable, Sendable {
        /// The weight `key` is under a parametrization ptload does not compute.
        case parametrization(key: String, ParametrizationFault)
        /// `key` has no `partner` beside it (weight_ih without weight_hh, or the reverse).
        case noPartner(key: String, partner: String)
        /// The pair's shapes fit no layer.
        case shapesFitNoLayer(ihKey: String, ihShape: [Int], hhKey: String, hhShape: [Int])

        public var description: String {
            switch self {
            case let .parametrization(key, fault): return "\(key): \(fault)"
            case let .noPartner(key, partner): return "'\(key)' has no '\(partner)' beside it"
            case let .shapesFitNoLayer(ihKey, ih, hhKey, hh):
                return "'\(ihKey)' \(ih) and '\(hhKey)' \(hh) fit no layer (both must be matrices, and weight_ih's rows"
                    + " 1, 3 or 4 times weight_hh's columns: RNN, GRU, LSTM)"
            }
        }
    }

    /// An initial state: `h0`, or an LSTM's `c0`.
    public enum State: String, Sendable {
        case h0, c0
    }

    /// What does not fit in what a module was given to run on, as PyTorch would refuse it.
    /// `module` is the module as PyTorch prints it (`LSTM(2, 1)`).
    public enum InputFault: CustomStringConvertible, Equatable, Sendable {
        /// A layer's input is neither `[T, N, I]` nor unbatched `[T, I]`.
        case layerInputRank(shape: [Int], module: String, inputSize: Int)
        /// A layer's input's last axis is not `input_size`.
        case inputFeatures(shape: [Int], module: String, inputSize: Int)
        /// A layer's input has no step or no sequence.
        case emptyInput(shape: [Int])
        /// A cell's input is neither `[N, I]` nor `[I]`.
        case cellInputShape(shape: [Int], module: String, inputSize: Int)
        /// `lengths` were given with an unbatched input.
        case lengthsUnbatched(inputShape: [Int])
        /// `lengths` has `count` entries for a batch of `batch`.
        case lengthsCount(count: Int, batch: Int)
        /// `lengths[index]` is `length`, outside `1...steps`.
        case lengthOutOfRange(index: Int, length: Int, steps: Int)
        /// `lengths` were given to a cell.
        case lengthsForCell(module: String)
        /// An initial state of the wrong shape.
        case stateShape(State, shape: [Int], module: String, expected: [Int])
        /// `c0` given to a module without a cell state.
        case noCellState(module: String)
        /// An LSTM (or LSTMCell) given only one of h0 and c0.
        case unpairedState(given: State, isCell: Bool)
        /// A streamed chunk whose batch (`inputShape`) is not the state's (`stateBatch`, nil
        /// for a state of unbatched input).
        case streamBatch(inputShape: [Int], stateBatch: Int?, module: String)
        /// A stream state whose h (`hShape`) is not this module's (made by another module).
        case streamState(hShape: [Int], module: String)
        /// A Linear's input whose last axis is not `in_features`.
        case linearInput(shape: [Int], inFeatures: Int, outFeatures: Int)
        /// A token id outside an Embedding's `0..<count` (PyTorch's "index out of range in self").
        case tokenOutOfRange(id: Int64, index: Int, count: Int, dimension: Int)
        /// An Embedding stage fed values, or not as the first stage.
        case embeddingNeedsIDs
        /// Token ids fed to a first stage that is not an Embedding.
        case idsWithoutEmbedding
        /// Values of a dtype the first stage cannot take.
        case notFloatingPoint(dtype: DType)
        /// The input's values cannot be read.
        case unreadable(TensorError)

        public var description: String {
            switch self {
            case let .layerInputRank(shape, module, i):
                return "input has shape \(shape); \(module) takes [T, N, \(i)], [N, T, \(i)] with batch_first, or"
                    + " unbatched [T, \(i)]"
            case let .inputFeatures(shape, module, inputSize):
                return "input has \(shape.last ?? 0) features (shape \(shape)); \(module) needs input_size \(inputSize)"
            case .emptyInput(let shape):
                return "input has shape \(shape); PyTorch needs at least one step and one sequence"
            case let .cellInputShape(shape, module, i):
                return "input has shape \(shape); \(module) takes [N, \(i)] or [\(i)]"
            case .lengthsUnbatched(let shape): return "lengths need a batched input; got unbatched shape \(shape)"
            case let .lengthsCount(count, batch):
                return "lengths has \(count) entries; the batch has \(batch) sequences"
            case let .lengthOutOfRange(index, length, steps):
                return "lengths[\(index)] is \(length); every length must be in 1...\(steps) (packed sequences have no"
                    + " empty ones)"
            case .lengthsForCell(let module): return "lengths apply to RNN/LSTM/GRU layers, not to \(module)"
            case let .stateShape(state, shape, module, expected):
                return "\(state.rawValue) has shape \(shape); \(module) with this input needs \(expected)"
            case .noCellState(let module): return "c0 was given, but \(module) has no cell state"
            case let .unpairedState(given, isCell):
                return "\(isCell ? "an LSTMCell" : "an LSTM") takes both h0 and c0 or neither; got only"
                    + " \(given.rawValue)"
            case let .streamBatch(shape, batch, module):
                return "input has shape \(shape); the \(module) state it continues was made for "
                    + (batch.map { "a batch of \($0)" } ?? "unbatched input")
            case let .streamState(shape, module):
                return "the state's h has shape \(shape), which is not a state of \(module)"
            case let .linearInput(shape, inFeatures, outFeatures):
                return "Linear(in_features=\(inFeatures), out_features=\(outFeatures)) got input of shape \(shape); the"
                    + " last axis must be \(inFeatures)"
            case let .tokenOutOfRange(id, index, count, dimension):
                return "token id \(id) at flat index \(index) is out of range for Embedding(\(count), \(dimension))"
            case .embeddingNeedsIDs: return "an Embedding takes token ids (int64), as the first stage"
            case .idsWithoutEmbedding: return "input holds token ids (int64), but the first stage is not an Embedding"
            case .notFloatingPoint(let dtype):
                return "input is \(dtype.rawValue); the first stage takes floating-point values"
            case .unreadable(let error): return "input: \(error)"
            }
        }
    }
}

/// An option a caller gives where the file records nothing (or to check what it records).
/// Described in torch.nn's words: `batch_first=True`, `nonlinearity 'tanh'`.
public enum ModuleOption: CustomStringConvertible, Equatable, Sendable {
    /// `batch_first`, with the value given.
    case batchFirst(Bool)
    /// An RNN's `nonlinearity`, with the value given.
    case nonlinearity(Activation)

    /// The torch.nn attribute.
    public var attribute: String {
        switch self {
        case .batchFirst: return "batch_first"
        case .nonlinearity: return "nonlinearity"
        }
    }

    public var description: String {
        switch self {
        case .batchFirst(let value): return "batch_first=\(value ? "True" : "False")"
        case .nonlinearity(let value): return "nonlinearity '\(value.rawValue)'"
        }
    }
}

extension NNError {
    /// The error a tensor read threw through PTTensor's untyped `throws` (`Storage`'s loader
    /// passes its errors on unchanged): a checkpoint's storage throws `CheckpointError`, which
    /// arrives as `.checkpoint`, unchanged; PTTensor's own `TensorError` is given its place by
    /// `tensorFault`. Any other type comes from a storage whose loader breaks that contract,
    /// and stops the program with its description.
    static func unerased(_ error: any Error, tensorFault: (TensorError) -> NNError) -> NNError {
        switch error {
        case let e as CheckpointError: return .checkpoint(e)
        case let e as TensorError: return tensorFault(e)
        default: preconditionFailure("\(error) (\(type(of: error))) reached the module layer untyped")
        }
    }
}
