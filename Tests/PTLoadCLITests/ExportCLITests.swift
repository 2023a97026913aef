import Foundation
import PTCheckpoint
import PTNumpy
import PTTestSupport
import Testing

/// `ptload MODEL --export OUT` on every checkpoint fixture (zip, legacy, TorchScript, whole
/// pickled modules): the .safetensors bytes equal what safetensors' own writer made of
/// torch.load's tensors, the .npz holds torch.load's bytes in state_dict order, and a dtype a
/// format lacks is one line and exit 2 (ptload_tools.fixtures.export → Fixtures/export).
@Suite struct ExportCLITests {
    struct Refusal: Decodable { let key: String; let dtype: String }
    struct Fixture: Decodable {
        let checkpoint: String
        let safetensors: String?
        /// torch.load refuses the file (and so must the export).
        let torch_refuses: String?
        let safetensors_refuses: Refusal?
        let npz_refuses: Refusal?
    }
    struct Manifest: Decodable { let fixtures: [String: Fixture] }
    struct Expected: Decodable {
        struct Entry: Decodable { let key: String; let dtype: String; let shape: [Int]; let bytes_hex: String }
        let tensors: [Entry]
    }

    static let fixtures: [String] = {
        guard let data = try? Data(contentsOf: fixtureURL("export/manifest.json")),
              let manifest = try? JSONDecoder().decode(Manifest.self, from: data) else { return [] }
        return manifest.fixtures.keys.sorted()
    }()

    static func fixture(_ name: String) throws -> Fixture {
        let manifest = try JSONDecoder()
            .decode(Manifest.self, from: Data(contentsOf: fixtureURL("export/manifest.json")))
        return try #require(manifest.fixtures[name])
    }

    @Test func everyCheckpointFixtureIsCovered() throws {
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: fixtureURL("checkpoints").path)
            .filter { $0.hasSuffix(".pt") }.map { String($0.dropLast(3)) }
        #expect(Set(Self.fixtures) == Set(checkpoints))
    }

    @Test(arguments: fixtures)
    func safetensorsAsTheFormatsOwnWriter(_ name: String) throws {
        let f = try Self.fixture(name)
        let out = temporaryFile([], name: name + ".safetensors")
        let r = try CLI.run([fixtureURL(f.checkpoint).path, "--export", out])
        if f.torch_refuses != nil {
            #expect(r.status == 2)
            #expect(r.stderr.hasPrefix("ptload: \(fixtureURL(f.checkpoint).path): "))
            let written = (try? Data(contentsOf: URL(fileURLWithPath: out))) ?? Data()
            #expect(written.isEmpty, "a refused export left \(written.count) bytes")
        } else if let refusal = f.safetensors_refuses {
            #expect(r.status == 2)
            #expect(r.stderr.contains("tensor '\(refusal.key)' is \(refusal.dtype): safetensors has no"
                                          + " \(refusal.dtype)"), "\(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1)
        } else {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.hasPrefix("exported: \(out) (safetensors): "))
            let expected = try Data(contentsOf: fixtureURL(try #require(f.safetensors)))
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == expected)
        }
    }

    @Test(arguments: fixtures)
    func npzHoldsTorchsBytesInOrder(_ name: String) throws {
        let f = try Self.fixture(name)
        let out = temporaryFile([], name: name + ".npz")
        let r = try CLI.run([fixtureURL(f.checkpoint).path, "--export", out])
        if f.torch_refuses != nil {
            #expect(r.status == 2)
            return
        }
        if let refusal = f.npz_refuses {
            #expect(r.status == 2)
            #expect(r.stderr.contains("tensor '\(refusal.key)' is \(refusal.dtype): numpy has no \(refusal.dtype)"),
                    "\(r.stderr)")
            return
        }
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try JSONDecoder()
            .decode(Expected.self, from: Data(contentsOf: fixtureURL("checkpoints/\(name).expected.json")))
        let arrays = try Numpy.readNpz(path: out)
        #expect(arrays.map(\.name) == expected.tensors.map(\.key))
        for (array, want) in zip(arrays, expected.tensors) {
            #expect(array.tensor.dtype.rawValue == want.dtype, "\(want.key)")
            #expect(array.tensor.shape == want.shape, "\(want.key)")
            let hex = try array.tensor.contiguousBytes().map { String(format: "%02x", $0) }.joined()
            #expect(hex == want.bytes_hex, "\(want.key)")
        }
    }

    /// bfloat16 has no numpy dtype: refused with what to do; with --cast float32 it exports, the
    /// bfloat16 values widened exactly.
    @Test func bfloat16ToNpzNeedsACast() throws {
        let model = fixtureURL("checkpoints/dtypes.pt").path
        let out = temporaryFile([], name: "dtypes.npz")
        let refused = try CLI.run([model, "--export", out])
        #expect(refused.status == 2)
        #expect(refused.stderr == "ptload: \(model): tensor 'bfloat16' is bfloat16: numpy has no bfloat16; cast it to"
                                      + " float32 or float16 (--cast float32 or --cast float16)\n")
        let widened = try CLI.run([fixtureURL("checkpoints/legacy_lstm.pt").path, "--export", out, "--cast", "float16"])
        #expect(widened.status == 0, "\(widened.stderr)")
        #expect(widened.stdout.contains("cast to float16: 16 tensors"), "\(widened.stdout)")
        #expect(try Numpy.readNpz(path: out).allSatisfy { $0.tensor.dtype == .float16 })
    }

    /// --module exports one submodule, its prefix stripped, as module.state_dict() gives it.
    @Test func moduleExportStripsThePrefix() throws {
        let out = temporaryFile([], name: "rnn.npz")
        let r = try CLI.run([fixtureURL("checkpoints/full_net.pt").path, "--export", out, "--module", "rnn"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try Numpy.readNpz(path: out).map(\.name)
                    == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        let none = try CLI.run([fixtureURL("checkpoints/full_net.pt").path, "--export", out, "--module", "decoder"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no tensor under 'decoder.'"), "\(none.stderr)")
    }

    /// A record that fails its CRC check part way through, in every format: exit 2 naming the
    /// tensor and the record, and no output file, whole or partial.
    @Test(arguments: ["safetensors", "npz", "pt"])
    func aCorruptRecordLeavesNoOutput(_ format: String) throws {
        let model = fixtureURL("hostile/zip_crc_storage.pt").path
        let out = temporaryFile([], name: "corrupt.\(format)")
        try? FileManager.default.removeItem(atPath: out)
        let r = try CLI.run([model, "--export", out])
        #expect(r.status == 2)
        #expect(r.stderr == "ptload: \(model): tensor 'weight_hh_l0': entry 'archive/data/1' has CRC-32 0xff61d18d;"
                                + " its header declares 0xfa81e398\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent) == [])
    }

    /// What --export writes, ptload reads as MODEL: the .safetensors of a golden case verifies
    /// against the case's reference, and converting it again gives the same bytes.
    @Test func safetensorsIsReadBackAsAModel() throws {
        let st = temporaryFile([], name: "lstm_long.safetensors")
        #expect(try CLI.run([fixtureURL("rnn/lstm_long.pt").path, "--export", st]).status == 0)
        let listed = try CLI.run([st])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("\nformat: safetensors\n"))
        #expect(listed.stdout.contains("\nchecksums: none (the safetensors format has none)\n"))
        let verified = try CLI.run([st, "--verify", fixtureURL("rnn/lstm_long.npz").path])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let again = temporaryFile([], name: "again.safetensors")
        #expect(try CLI.run([st, "--export", again]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: again)) == Data(contentsOf: URL(fileURLWithPath: st)))
    }

    /// --export OUT.pt writes a torch.save archive ptload reads back with every tensor's bytes,
    /// in state_dict order (torch.load(weights_only=True) and mmap=True read the same files:
    /// ptload_tools.fixtures.export); and .pt → .safetensors → .pt keeps every byte.
    @Test(arguments: fixtures)
    func ptRoundTripsKeepEveryByte(_ name: String) throws {
        let f = try Self.fixture(name)
        guard f.torch_refuses == nil else { return }
        let expected = try JSONDecoder()
            .decode(Expected.self, from: Data(contentsOf: fixtureURL("checkpoints/\(name).expected.json")))
        let pt = temporaryFile([], name: name + ".pt")
        let r = try CLI.run([fixtureURL(f.checkpoint).path, "--export", pt])
        #expect(r.status == 0, "\(r.stderr)")
        let written = try Checkpoint.load(path: pt, options: LoadOptions(strict: true))
        #expect(written.tensors.map(\.key) == expected.tensors.map(\.key))
        for (t, want) in zip(written.tensors, expected.tensors) {
            #expect(t.tensor.dtype.rawValue == want.dtype && t.tensor.shape == want.shape, "\(want.key)")
            #expect(try t.tensor.contiguousBytes().map { String(format: "%02x", $0) }.joined() == want.bytes_hex,
                    "\(want.key)")
        }
        guard f.safetensors != nil else { return }
        let st = temporaryFile([], name: name + ".safetensors")
        #expect(try CLI.run([pt, "--export", st]).status == 0)
        let back = temporaryFile([], name: name + "-back.pt")
        #expect(try CLI.run([st, "--export", back]).status == 0)
        let again = try Checkpoint.load(path: back)
        let bytes = Dictionary(uniqueKeysWithValues: try again.tensors.map {
            ($0.key, try $0.tensor.contiguousBytes())
        })
        for t in written.tensors {
            #expect(bytes[t.key] == (try t.tensor.contiguousBytes()), "\(t.key)")
        }
    }
}
