import FuzzSupport
import Foundation
import PTCheckpoint
import PTKernels
import PTNN
import PTRunner
import PTTensor

/// Loads the input as a checkpoint (zip, legacy stream, TorchScript archive, or safetensors
/// recognised by its content), then does what `ptload FILE`, `--export OUT` and
/// `--verify REF` do with it: the JSON summary, every tensor's bytes streamed as the writers
/// take them (views gathered piece by piece), every tensor's values, and every recurrent module
/// loaded and run for two steps on zeros. A refusal (a thrown error) is a correct outcome; only
/// crashes, sanitizer reports, timeouts and memory blow-ups are findings.
func fuzzCheckpoint(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let checkpoint = try? Checkpoint.load(bytes: bytes, name: "fuzz.pt") else { return 0 }
    let catalog = ModuleCatalog(checkpoint)
    _ = try? JSONEncoder().encode(CheckpointSummary(catalog, loadSeconds: 0))
    for named in checkpoint.tensors {
        try? named.tensor.streamBytes { _ in }
        _ = try? named.tensor.doubles()
    }
    for prefix in catalog.prefixes {
        guard let pipeline = try? Pipeline<Float>(catalog: catalog, prefixes: [prefix],
                                                  options: ModuleOptions(), firstInputIsIDs: false),
              case .recurrent(let layer)? = pipeline.stages.first else { continue }
        let shape = layer.config.isCell ? [1, layer.config.inputSize] : [2, 1, layer.config.inputSize]
        // One compute thread, so that coverage and every finding are deterministic (the thread
        // pool is exercised by the test suite, ThreadPoolTests among others).
        _ = try? layer.forward(ShapedArray<Float>(zeros: shape), compute: Compute(threads: ThreadCount(1)))
    }
    return 0
}

exit(runFuzzer { data, size in fuzzCheckpoint(data, size) })
