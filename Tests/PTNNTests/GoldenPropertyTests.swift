import Foundation
import PTCheckpoint
import PTKernels
@testable import PTNN
import PTNumpy
import PTTensor
import PTTestSupport
import Testing

/// Properties of ptload's own outputs on the golden cases PyTorch wrote, one test case per
/// golden case the property applies to.
@Suite struct GoldenPropertyTests {
    /// Float32 cases of one bare recurrent module that pass, time-major and batched.
    static let plain = GoldenCase.all.filter {
        $0.expect_exit == 0 && $0.module == "" && $0.dtype == "float32" && $0.config.batch_first == false
            && !$0.unbatched
            && ["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"].contains($0.kind)
    }

    /// The seeds' identities for a bidirectional LSTM (time-major, full-length sequences):
    /// output[-1, :, :H] == h_n[-2] and output[0, :, H:] == h_n[-1], on ptload's own outputs.
    @Test(arguments: plain.filter { $0.kind == "LSTM" && $0.config.bidirectional == true && !$0.has_lengths })
    func bidirectionalOutputAndFinalStateIdentities(_ c: GoldenCase) throws {
        let (out, _, config) = try Self.run(c)
        let output = try #require(out.output)
        let (steps, batch, hout) = (output.shape[0], output.shape[1], config.outputSize)
        let width = 2 * hout
        let states = out.hN.shape[0]
        for b in 0..<batch {
            for j in 0..<hout {
                #expect(output.values[((steps - 1) * batch + b) * width + j]
                            == out.hN.values[((states - 2) * batch + b) * hout + j])
                #expect(output.values[(0 * batch + b) * width + hout + j]
                            == out.hN.values[((states - 1) * batch + b) * hout + j])
            }
        }
    }

    /// With lengths, output is zero past each sequence's length, and h_n holds its own last
    /// valid step: forward at t = len − 1, reverse at t = 0.
    @Test(arguments: plain.filter { $0.has_lengths && $0.config.num_layers == 1 && $0.kind != "RNN" })
    func variableLengthsStopAtEachLength(_ c: GoldenCase) throws {
        let (out, r, config) = try Self.run(c)
        let output = try #require(out.output)
        let lengths = try #require(r["lengths"]).doubles().map { Int($0) }
        let (batch, hout, width) = (output.shape[1], config.outputSize, config.outputSize * config.directions)
        for b in 0..<batch {
            for t in lengths[b]..<output.shape[0] {
                #expect((0..<width).allSatisfy { output.values[(t * batch + b) * width + $0] == 0 }, "b \(b) t \(t)")
            }
            for j in 0..<hout {
                #expect(output.values[((lengths[b] - 1) * batch + b) * width + j] == out.hN.values[b * hout + j])
                if config.bidirectional {
                    #expect(output.values[b * width + hout + j] == out.hN.values[(batch + b) * hout + j])
                }
            }
        }
    }

    /// One module, many calls: the working memory kept between calls (PackedRecurrent's
    /// workspaces) carries nothing from one call into the next. A call on the reference, one on a
    /// shorter input without lengths, and the reference again give the first call's outputs bit
    /// for bit, and the middle call gives what a freshly loaded module gives. (Cells are one
    /// step: nothing is kept.)
    @Test(arguments: plain.filter { !$0.kind.hasSuffix("Cell") })
    func repeatedCallsOnOneModuleAreIndependent(_ c: GoldenCase) throws {
        let model = try Checkpoint.load(path: c.modelPath)
        func load() throws -> Recurrent<Float> { try ModuleCatalog(model).recurrent() }
        let module = try load()
        let r = try Self.reference(c)
        let input = try ShapedArray<Float>(#require(r["input"]))
        let h0 = try r["h0"].map { try ShapedArray<Float>($0) }, c0 = try r["c0"].map { try ShapedArray<Float>($0) }
        let lengths = try r["lengths"].map { try $0.doubles().map { Int($0) } }

        let first = try module.forward(input, h0: h0, c0: c0, lengths: lengths)
        let steps = max(1, input.shape[0] / 2)
        let shorter = ShapedArray<Float>(shape: [steps] + input.shape.dropFirst(),
                                         values: Array(input.values[0..<(steps * input.shape[1] * input.shape[2])]))
        let middle = try module.forward(shorter)
        let again = try module.forward(input, h0: h0, c0: c0, lengths: lengths)
        let fresh = try load().forward(shorter)
        #expect(again.output == first.output)
        #expect(again.hN == first.hN)
        #expect(again.cN == first.cN)
        #expect(middle.output == fresh.output)
        #expect(middle.hN == fresh.hN)
        #expect(middle.cN == fresh.cN)
    }

    /// The properties above cover what they claim to: a bidirectional LSTM, single-layer cases
    /// with lengths, and a multi-layer case with lengths among the repeated calls.
    @Test func propertiesHaveCases() {
        #expect(Self.plain.contains { $0.kind == "LSTM" && $0.config.bidirectional == true && !$0.has_lengths })
        #expect(Self.plain.contains { $0.has_lengths && $0.config.num_layers == 1 && $0.kind != "RNN" })
        #expect(Self.plain.contains { $0.has_lengths && ($0.config.num_layers ?? 1) > 1 })
    }

    static func reference(_ c: GoldenCase) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try Numpy.readNpz(path: c.referencePath).map { ($0.name, $0.tensor) })
    }

    /// Runs the case's sole recurrent module on its reference's input and state.
    static func run(_ c: GoldenCase) throws -> (Recurrent<Float>.Output, [String: Tensor], RecurrentConfig) {
        let module: Recurrent<Float> = try ModuleCatalog(try Checkpoint.load(path: c.modelPath)).recurrent()
        let r = try reference(c)
        let out = try module.forward(try ShapedArray<Float>(#require(r["input"])),
                                     h0: try r["h0"].map { try ShapedArray<Float>($0) },
                                     c0: try r["c0"].map { try ShapedArray<Float>($0) },
                                     lengths: try r["lengths"].map { try $0.doubles().map { Int($0) } })
        return (out, r, module.config)
    }
}
