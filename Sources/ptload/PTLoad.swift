import ArgumentParser
import Foundation
import PTCheckpoint
import PTExport
import PTKernels
import PTNN
import PTRunner
import PTTensor
import PTText

/// `ptload MODEL`: inspect a PyTorch checkpoint without Python; with `--verify` or `--output`,
/// run its recurrent module and compare with PyTorch's outputs.
@main
struct PTLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptload",
        abstract: "Read PyTorch checkpoints without Python; run and verify RNN/LSTM/GRU.",
        // Every line fits in 80 columns, so that the help text reads as written here.
        discussion: """
        ptload MODEL                             list what the checkpoint holds
        ptload MODEL --verify REF.npz [options]  run a module on REF's input and
                                                 compare with REF's outputs
        ptload MODEL --input X.npy --verify REF.npy
                                                 the same, input and expected
                                                 output in two files
        ptload MODEL --input X.npz|X.npy --output OUT.npz
                                                 run and write output, h_n, c_n
        ptload MODEL --verify golden.json [--junit r.xml]
                                                 every case of a golden manifest
        ptload MODEL --export OUT.safetensors|OUT.npz|OUT.pt [--cast DTYPE]
                                                 convert the tensors, no pickle run
        ptload MODEL --export DIR/model.safetensors --max-shard-size 5GB
                                                 Hugging Face shards and index

        MODEL: a torch.save zip or legacy file (.pt, .pth), a torch.jit.save
        archive, a .safetensors file, or a Hugging Face model folder or its
        *.index.json (every shard it names is read, .bin or .safetensors).
        Exit status: 0 success (every compared tensor within tolerance); 1 a
        mismatch; 2 a bad, hostile or unreadable file, or bad usage, with one
        line on stderr. Nothing in a checkpoint is ever executed.
        """,
        version: ptloadVersion
    )

    @Argument(help: ArgumentHelp("The checkpoint: torch.save zip or legacy file, torch.jit.save archive,"
                                 + " .safetensors, or a Hugging Face folder or *.index.json."))
    var model: String

    @Option(help: ArgumentHelp("Reference: .npz with input (and h0, c0, lengths) and expected output, h_n, c_n; .npy"
                                   + " with the expected output; or a golden.json manifest of cases (written by"
                                   + " ptload-golden, python/).", valueName: "REF"))
    var verify: String?

    @Option(help: ArgumentHelp("Also write the verdicts as JUnit XML, one testcase per case.", valueName: "FILE"))
    var junit: String?

    @Option(help: ArgumentHelp("Input .npy (the input) or .npz (input, h0, c0, lengths).", valueName: "X"))
    var input: String?

    @Option(help: ArgumentHelp("Write output, h_n, c_n to this .npz.", valueName: "OUT"))
    var output: String?

    @Option(help: ArgumentHelp("Convert the checkpoint's tensors to OUT.safetensors, OUT.npz or OUT.pt (with"
                                   + " --module, one submodule's, prefix stripped).", valueName: "OUT"))
    var export: String?

    @Option(help: ArgumentHelp("With --export: write floating-point tensors as float16, bfloat16 or float32, rounded"
                                   + " as PyTorch rounds.", valueName: "DTYPE"))
    var cast: String?

    @Option(help: ArgumentHelp("With --export DIR/model.safetensors: write Hugging Face shards of at most SIZE"
                                   + " (5GB, 200KB: powers of 10) and model.safetensors.index.json, as"
                                   + " save_pretrained does; tied weights are written once.", valueName: "SIZE"))
    var maxShardSize: String?

    @Option(help: ArgumentHelp("The module to run, by its state_dict key prefix (encoder.rnn, lstm, …).",
                               valueName: "PREFIX"))
    var module: String?

    @Option(help: ArgumentHelp("Modules to run in order, each fed the previous one's output.", valueName: "P1,P2,..."))
    var pipeline: String?

    @Flag(help: "Input is [N, T, I] (for state dicts, which do not record batch_first).")
    var batchFirst = false

    @Option(help: ArgumentHelp("RNN nonlinearity for state dicts, which do not record it: tanh or relu.",
                               valueName: "tanh|relu"))
    var nonlinearity: String?

    @Option(help: "Relative tolerance (default: torch.testing.assert_close's for the compute dtype).")
    var rtol: Double?

    @Option(help: "Absolute tolerance (default: torch.testing.assert_close's for the compute dtype).")
    var atol: Double?

    @Option(help: ArgumentHelp("Run the forward pass N times and report the median time.", valueName: "N"))
    var `repeat`: Int = 1

    @Option(help: ArgumentHelp("Run the sequence in chunks of N steps through the streaming API, carrying the"
                                   + " state (one unidirectional recurrent module; not with lengths). A cell"
                                   + " takes one step per call, and its input may then be a sequence [T, N, I].",
                               valueName: "N"))
    var chunk: Int?

    @Option(help: ArgumentHelp("Threads for the forward pass, any number from 1 (default: the machine's cores).",
                               valueName: "N"))
    var threads: Int?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Flag(help: "Refuse every global outside torch.load(weights_only=True)'s allowlist.")
    var strict = false

    @Flag(help: "List the checkpoint without reading its tensor data: storage records' CRC-32s are not checked.")
    var skipCrc = false

    func validate() throws {
        if module != nil && pipeline != nil { throw ValidationError("--module and --pipeline exclude each other") }
        if let export {
            if verify != nil || output != nil || input != nil || pipeline != nil {
                throw ValidationError("--export excludes --verify, --output, --input and --pipeline")
            }
            if CheckpointWriter.Format(path: export) == nil {
                throw ValidationError("--export writes .safetensors, .npz or .pt; '\(export)' names none of them")
            }
            if let cast, !["float16", "bfloat16", "float32"].contains(cast) {
                throw ValidationError("--cast must be float16, bfloat16 or float32, not '\(cast)'")
            }
            if let maxShardSize {
                guard CheckpointWriter.Format(path: export) == .safetensors else {
                    throw ValidationError("--max-shard-size writes .safetensors shards; '\(export)' is not"
                                              + " .safetensors")
                }
                do throws(ShardSizeFault) {
                    _ = try ShardSize.parse(maxShardSize)
                } catch {
                    throw ValidationError("--max-shard-size '\(maxShardSize)': \(error)")
                }
            }
            if skipCrc { throw ValidationError("--skip-crc applies to listing; --export checks every record it reads") }
            return
        }
        if cast != nil { throw ValidationError("--cast needs --export") }
        if maxShardSize != nil { throw ValidationError("--max-shard-size needs --export DIR/model.safetensors") }
        if let n = nonlinearity, Activation(rawValue: n) == nil {
            throw ValidationError("--nonlinearity must be tanh or relu, not '\(n)'")
        }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if let n = chunk, n < 1 { throw ValidationError("--chunk must be at least 1") }
        if chunk != nil && pipeline != nil {
            throw ValidationError("--chunk streams one recurrent module; --pipeline runs several")
        }
        let runs = verify != nil || output != nil
        if runs && skipCrc {
            throw ValidationError("--skip-crc applies to listing; --verify and --output check every record they read")
        }
        if !runs && (input != nil || module != nil || pipeline != nil || batchFirst || nonlinearity != nil
                     || rtol != nil || atol != nil || `repeat` != 1 || chunk != nil) {
            throw ValidationError("--input, --module, --pipeline, --batch-first, --nonlinearity, --rtol, --atol,"
                                      + " --repeat and --chunk need --verify or --output")
        }
        if junit != nil && verify == nil { throw ValidationError("--junit needs --verify") }
        if let verify, GoldenManifest.isManifest(verify) {
            let given = [("--input", input != nil), ("--output", output != nil), ("--module", module != nil),
                         ("--pipeline", pipeline != nil), ("--batch-first", batchFirst),
                         ("--nonlinearity", nonlinearity != nil), ("--repeat", `repeat` != 1),
                         ("--chunk", chunk != nil)].filter(\.1).map(\.0)
            if !given.isEmpty {
                throw ValidationError("\(given.joined(separator: ", ")): a golden manifest names each case's input,"
                                          + " module and options")
            }
        }
        if let r = rtol, !(r >= 0) { throw ValidationError("--rtol must be a non-negative number") }
        if let a = atol, !(a >= 0) { throw ValidationError("--atol must be a non-negative number") }
    }

    mutating func run() throws {
        let compute: Compute
        do {
            compute = try Compute.command(environment: ProcessInfo.processInfo.environment, threads: threads)
        } catch {
            fail(error.message)
        }
        if let export {
            try exportTensors(to: export)
        } else if verify != nil || output != nil {
            try runModule(compute)
        } else {
            try inspect()
        }
    }

    func inspect() throws {
        let listing: CheckpointListing.Listing
        do {
            listing = try CheckpointListing.run(CheckpointListing.Request(modelPath: model, strict: strict,
                                                                          checkRecords: !skipCrc,
                                                                          work: WorkReport.work))
        } catch {
            fail(commandLineMessage(error))
        }
        if json {
            try SummaryJSON(summary: listing.summary, tensors: listing.tensors).write(encode) {
                print($0, terminator: "")
            }
        } else {
            TextReport(listing.summary, tensors: listing.tensors).render { print($0, terminator: "") }
        }
    }

    func runModule(_ compute: Compute) throws {
        if let verify, GoldenManifest.isManifest(verify) { return try runSuite(manifest: verify, compute) }
        var request = ModuleRunner.Request(
            modelPath: model, referencePath: verify, inputPath: input, outputPath: output, module: module,
            pipeline: pipeline.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } },
            options: ModuleOptions(batchFirst: batchFirst ? true : nil,
                                   nonlinearity: nonlinearity.flatMap(Activation.init(rawValue:))),
            rtol: rtol, atol: atol, strict: strict, repeatCount: `repeat`, compute: compute, work: WorkReport.work)
        request.chunkSteps = chunk
        let report: ModuleRunReport
        do {
            report = try ModuleRunner.run(request)
        } catch {
            fail(commandLineMessage(error))
        }
        try publish(report, passed: report.passed, junit: JUnitReport(report), text: { VerifyText(report).render() })
    }

    /// Writes the checkpoint's tensors (or one submodule's) to `path`, in the format its extension names.
    func exportTensors(to path: String) throws {
        let report: ExportReport
        do {
            report = try CheckpointExport.run(CheckpointExport.Request(
                modelPath: model, outputPath: path, module: module, cast: cast.flatMap { DType(rawValue: $0) },
                strict: strict, work: WorkReport.work, maxShardSize: maxShardSize))
        } catch {
            fail(commandLineMessage(error))
        }
        if json {
            print(try encode(report))
        } else {
            var text = "exported: \(report.output) (\(report.format)): \(report.tensors) tensors, \(report.bytes)"
                + " bytes\n"
            if report.materialized > 0 {
                text += "views and shared storages written as separate contiguous tensors: \(report.materialized)\n"
            }
            if let cast = report.cast_to, report.cast > 0 { text += "cast to \(cast): \(report.cast) tensors\n" }
            if let shards = report.shards, let size = report.max_shard_size {
                text += "shards: \(shards.count) of at most \(size) bytes (a larger tensor has its own),"
                    + " total_size \(report.total_size ?? 0)\n"
                for shard in shards { text += "  \(oneLine(shard))\n" }
                if let index = report.index { text += "index: \(oneLine(index))\n" }
            }
            for alias in report.dropped_aliases ?? [] {
                text += "left out as an alias of \(oneLine(alias.kept, limit: 200)):"
                    + " \(oneLine(alias.name, limit: 200))\n"
            }
            for file in report.removed ?? [] { text += "removed (earlier output): \(oneLine(file))\n" }
            print(text, terminator: "")
        }
    }

    /// Every case of a golden manifest on this checkpoint, read once.
    func runSuite(manifest: String, _ compute: Compute) throws {
        let request = GoldenSuite.Request(modelPath: model, manifestPath: manifest, rtol: rtol, atol: atol,
                                          strict: strict, compute: compute, work: WorkReport.work)
        let report: GoldenSuiteReport
        do {
            report = try GoldenSuite.run(request)
        } catch {
            fail(commandLineMessage(error))
        }
        try publish(report, passed: report.passed, junit: JUnitReport(report), text: { SuiteText(report).render() })
    }

    /// A verdict's report: the JUnit file when asked, JSON or text on stdout, exit status 1 on a mismatch.
    func publish<Report: Encodable>(_ report: Report, passed: Bool, junit junitReport: JUnitReport,
                                    text: () -> String) throws {
        if let junit {
            if let why = ReportFile.write(junitReport.render(), to: junit, inputs: [model, verify].compactMap { $0 }) {
                fail("\(junit): cannot write the JUnit report: \(why)")
            }
        }
        print(json ? try encode(report) : text(), terminator: json ? "\n" : "")
        if !passed { throw ExitCode(1) }
    }

    func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                      nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Parses and runs. Every failure, bad usage included, is one line on stderr and exit
    /// status 2 (argument-parser alone would print the usage block and exit 64); a mismatch is 1.
    static func main() {
        if let index = firstArgumentNotUTF8() {
            fail("argument \(index) is not valid UTF-8; ptload takes file names as UTF-8 text and never writes under a"
                     + " re-encoded name")
        }
        do {
            var command = try parseAsRoot()
            try command.run()
            WorkReport.write()
        } catch let code as ExitCode {
            WorkReport.write()
            Foundation.exit(code.rawValue)
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

/// The position (1-based) of the first command-line argument whose bytes are not valid UTF-8.
/// Swift's `CommandLine.arguments` would repair them (U+FFFD), which would make ptload read or
/// write a file of another name.
func firstArgumentNotUTF8() -> Int? {
    for index in 1..<Int(CommandLine.argc) {
        guard let raw = CommandLine.unsafeArgv[index] else { continue }
        let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(raw).assumingMemoryBound(to: UInt8.self),
                                        count: strlen(raw))
        if String(validating: bytes, as: UTF8.self) == nil { return index }
    }
    return nil
}

/// Exit status 2 with exactly one line on stderr, whatever the file put into names and keys.
func fail(_ message: String) -> Never {
    WorkReport.write()
    FileHandle.standardError.write(Data(("ptload: " + oneLine(message) + "\n").utf8))
    exit(2)
}

/// `text` with control characters escaped (`\n`, `\u{1}`) and cut to `limit` characters: a
/// hostile file's names must not break the one-line error or the listing's columns.
func oneLine(_ text: String, limit: Int = 2000) -> String { Escaped.line(text, limit: limit) }
