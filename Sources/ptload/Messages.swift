import PTCheckpoint
import PTNN
import PTRunner

/// A run's error in the command line's words: the libraries name options as torch.nn and their
/// APIs do (`batch_first=True`, `choose one by its prefix`, `strict loading`); ptload names its
/// flags. Every other line is the library's description.
func commandLineMessage(_ error: ModuleRunError) -> String {
    switch error {
    case .noInput: return "no input: give --input X.npy, or a REF.npz holding 'input'"
    case .export(_, let e) where e.reason.castWouldHelp: return "\(error) (--cast float32 or --cast float16)"
    default: return flagWording(error) ?? error.description
    }
}

/// The line for an error that names an option ptload has a flag for, wherever it is nested;
/// nil when the library's words are ptload's too.
private func flagWording(_ error: ModuleRunError) -> String? {
    switch error {
    case .checkpoint(let e): return flagWording(e)
    case let .module(file, e): return flagWording(e).map { "\(file): \($0)" }
    case let .inCase(manifest, name, inner): return flagWording(inner).map { "\(manifest): case '\(name)': \($0)" }
    default: return nil
    }
}

private func flagWording(_ error: NNError) -> String? {
    switch error {
    case let .optionContradictsPickled(option, pickled, module):
        return "\(flag(option, withValue: true)) contradicts \(module)'s pickled \(pickled)"
    case let .optionNotApplicable(option, module, kind):
        return "\(flag(option, withValue: false)) applies to RNN modules; \(module) is \(kind.withArticle)"
    case .severalRecurrentModules(let prefixes):
        return "the checkpoint holds \(prefixes.count) recurrent modules (\(ModuleCatalog.listed(prefixes)));"
            + " choose one with --module"
    case .checkpoint(let e): return flagWording(e)
    default: return nil
    }
}

private func flagWording(_ error: CheckpointError) -> String? {
    guard case let .refusedGlobal(record, global, .notWeightsOnly) = error.reason else { return nil }
    return "\(error.path): \(record) references \(global), which is not on the weights-only allowlist (--strict);"
        + " refused"
}

/// `--batch-first` (a flag without a value), `--nonlinearity relu` (or `--nonlinearity` alone).
private func flag(_ option: ModuleOption, withValue: Bool) -> String {
    switch option {
    case .batchFirst: return "--batch-first"
    case .nonlinearity(let value): return withValue ? "--nonlinearity \(value.rawValue)" : "--nonlinearity"
    }
}
