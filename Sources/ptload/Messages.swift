import PTCheckpoint
import PTNN
import PTRunner

/// A run's error in the command line's words: options named by their flags.
func commandLineMessage(_ error: ModuleRunError) -> String {
    switch error {
    case .noInput: return "no input: give --input X.npy, or a REF.npz holding 'input'"
    case .export(_, let e) where e.reason.castWouldHelp: return "\(error.description(spelling: .commandLine)) (--cast float32 or --cast float16)"
    default: return error.description(spelling: .commandLine)
    }
}

extension OptionSpelling {
    /// ptload's flags: `--batch-first`, `--nonlinearity relu`, `--module`.
    static let commandLine = OptionSpelling(
        given: { option in
            switch option {
            case .batchFirst: return "--batch-first"
            case .nonlinearity(let value): return "--nonlinearity \(value)"
            }
        },
        name: { option in
            switch option {
            case .batchFirst: return "--batch-first"
            case .nonlinearity: return "--nonlinearity"
            }
        },
        chooseModule: "choose one with --module",
        strictLoading: "--strict")
}
