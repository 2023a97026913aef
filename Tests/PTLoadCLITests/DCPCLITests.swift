import Foundation
import PTCheckpoint
import PTNumpy
import PTTestSupport
import Testing

/// `ptload` on torch.distributed.checkpoint folders (Fixtures/sharded/dcp): listing, `--strict`,
/// `--verify` of the LSTM whose weights were sharded across two ranks, `--export` to each
/// format read back bit for bit against torch's `dcp_to_torch_save`; and the hostile folders
/// (Fixtures/sharded/hostile_dcp/expected.json), one test each: exit 2 and the exact line, within
/// the hostile corpus's memory limit.
@Suite struct DCPCLITests {
    static let folders = ["single", "ranks2"]
    static func dcp(_ name: String) -> String { fixtureURL("sharded/dcp/\(name)").path }

    @Test(arguments: folders)
    func listsAndVerifies(_ name: String) throws {
        for args in [[Self.dcp(name)], [Self.dcp(name) + "/.metadata", "--strict"]] {
            let r = try CLI.run(args)
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stdout.contains("format: dcp"), "\(r.stdout)")
            #expect(r.stdout.contains("record object step: 7"), "\(r.stdout)")
        }
        let v = try CLI.run([Self.dcp(name), "--verify", Self.dcp(name) + "_lstm.npz", "--module", "lstm"])
        #expect(v.status == 0, "\(v.stderr)")
        #expect(v.stdout.contains("PASS (3 of 3 tensors within tolerance)"), "\(v.stdout)")
    }

    @Test(arguments: folders)
    func exportsReadBackAsTorchsConversion(_ name: String) throws {
        let truth = try Checkpoint.load(path: Self.dcp(name) + ".pt")
        for format in ["safetensors", "pt"] {
            let out = temporaryFile([], name: "\(name).\(format)")
            let r = try CLI.run([Self.dcp(name), "--export", out])
            #expect(r.status == 0, "\(r.stderr)")
            let back = try Checkpoint.load(path: out)
            #expect(Set(back.tensors.map(\.key)) == Set(truth.tensors.map(\.key)), "\(format)")
            for t in back.tensors {
                let want = try #require(truth.tensor(t.key))
                #expect(t.tensor.dtype == want.dtype && t.tensor.shape == want.shape, "\(format) \(t.key)")
                #expect(try t.tensor.contiguousBytes() == want.contiguousBytes(), "\(format) \(t.key)")
            }
        }
        let out = temporaryFile([], name: "\(name).npz")
        let r = try CLI.run([Self.dcp(name), "--export", out])
        #expect(r.status == 0, "\(r.stderr)")
        let arrays = try Numpy.readNpz(path: out)
        #expect(arrays.map(\.name) == truth.tensors.map(\.key))
        for (array, want) in zip(arrays, truth.tensors) {
            #expect(array.tensor.shape == want.tensor.shape, "\(want.key)")
            #expect(try array.tensor.contiguousBytes() == want.tensor.contiguousBytes(), "\(want.key)")
        }
    }

    // MARK: streamed export of a big tensor

    /// A 64 MB tensor in two column chunks, two files: each row alternates between the files,
    /// 8 KB from each. The export reads it run by run and hands the mapped pages back, so ptload's
    /// peak RSS stays well below the tensor's size; the file holds every element in place.
    @Test func columnSplitExportIsStreamed() throws {
        let rows = 4096, widths = [2048, 2048], cols = 4096
        let folder = try DCPFolder(tensors: [DCPFolder.TensorEntry(fqn: "big", size: [rows, cols], chunks: [
            DCPFolder.Chunk(offsets: [0, 0], sizes: [rows, widths[0]], file: "__0_0.distcp"),
            DCPFolder.Chunk(offsets: [0, widths[0]], sizes: [rows, widths[1]], file: "__1_0.distcp"),
        ])]).write()
        let out = temporaryFile([], name: "big.safetensors")
        let run = try CLI.runMeasured([folder, "--export", out])
        #expect(run.result.status == 0, "\(run.result.stderr)")
        let tensorBytes = rows * cols * 4
        // About 35 MB measured (24 MB of it ptload listing with no checks); the tensor held whole, or
        // its mapped pages kept, would be over 84.
        #expect(run.peakRSSBytes < tensorBytes * 3 / 4, "peak RSS \(run.peakRSSBytes) for a \(tensorBytes)-byte tensor")
        let back = try #require(try Checkpoint.load(path: out).tensor("big"))
        #expect(back.shape == [rows, cols])
        let values = try back.floats()
        let wrong = values.indices.first { values[$0] != DCPFolder.value($0) }
        #expect(wrong == nil, "element \(wrong ?? -1)")
    }

    // MARK: hostile corpus

    struct Case: Decodable {
        let `case`: String
        let attack: String
        let exit: Int32
        let stderr: String?
    }

    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: fixtureURL("sharded/hostile_dcp/expected.json")),
              let list = try? JSONDecoder().decode([Case].self, from: data) else { return [] }
        return list
    }()

    @Test func corpusIsThere() {
        #expect(Self.cases.count == 15)
    }

    @Test(arguments: cases.map(\.case))
    func hostileFolder(_ name: String) throws {
        let c = try #require(Self.cases.first { $0.case == name })
        let dir = fixtureURL("sharded/hostile_dcp/\(name)").path
        let run = try CLI.runMeasured([dir])
        let r = run.result
        #expect(r.status == c.exit, "\(name) (\(c.attack)): \(r.stderr)")
        #expect(run.peakRSSBytes < HostileCorpusTests.maxRSSBytes, "\(name): peak RSS \(run.peakRSSBytes)")
        if let line = c.stderr {
            #expect(r.stderr == line.replacingOccurrences(of: "{dir}", with: dir) + "\n", "\(name) (\(c.attack))")
        }
    }
}
