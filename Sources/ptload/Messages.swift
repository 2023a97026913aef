import PTCheckpoint
import PTNN
import PTRunner

/// A run's error in the command line's words: options named by their flags.
func commandLineMessage(_ error: ModuleRunError) -> String {
    switch error {
    case .noInput: return "no input: give --input X.npy, or a REF.npz holding 'input'"
    default: return error.description(spelling: .commandLine)
    }
}

/// A checkpoint's refusal in the command line's words.
func commandLineMessage(_ error: CheckpointError) -> String {
    error.description(strictLoading: OptionSpelling.commandLine.strictLoading)
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
