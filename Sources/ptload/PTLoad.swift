import ArgumentParser
import Foundation
import PTCheckpoint

/// `ptload MODEL`: inspect a PyTorch checkpoint without Python.
@main
struct PTLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptload",
        abstract: "Read a PyTorch checkpoint (.pt/.pth/TorchScript) without Python and list what it holds.",
        discussion: """
        Exit status: 0 success; 2 a bad, hostile or unreadable file, or bad usage (one line on stderr).
        Nothing in a checkpoint is ever executed: globals are names, and files naming code execution are refused.
        """
    )

    @Argument(help: "The checkpoint: torch.save zip or legacy file, or a torch.jit.save archive.")
    var model: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "Refuse every global outside torch.load(weights_only=True)'s allowlist.")
    var strict = false

    mutating func run() throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(path: model, options: LoadOptions(strict: strict))
        } catch let e as CheckpointError {
            fail(e.description)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let summary = CheckpointSummary(checkpoint, loadSeconds: seconds)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = try encoder.encode(summary)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(TextReport(summary).render(), terminator: "")
        }
    }

    /// Parses and runs. Every failure, bad usage included, is one line on stderr and exit
    /// status 2 (argument-parser alone would print the usage block and exit 64).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .success {
                print(fullMessage(for: error))   // --help
                Foundation.exit(0)
            }
            let message = PTLoad.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            fail(message)
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("ptload: " + message + "\n").utf8))
    exit(2)
}
