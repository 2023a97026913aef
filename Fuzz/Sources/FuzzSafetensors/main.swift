import Foundation
import FuzzSupport
import PTCheckpoint
import PTNN
import PTRunner
import PTTensor

/// Loads the input as a `.safetensors` file, then does what `ptload FILE` and
/// `ptload FILE --export OUT` do with it: the JSON summary, and every tensor's bytes streamed
/// (the writer's source) with nothing written. The name ends in `.safetensors`, as a user's file
/// would, so every input that is not a zip reaches the safetensors reader, even one whose header
/// length would fail the content check (`SafetensorsReader.recognises`) that the checkpoint
/// harness, naming its inputs `fuzz.pt`, depends on. A thrown error is a correct outcome.
func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let checkpoint = try? Checkpoint.load(bytes: bytes, name: "fuzz.safetensors") else { return 0 }
    _ = try? JSONEncoder().encode(CheckpointSummary(ModuleCatalog(checkpoint), loadSeconds: 0))
    for named in checkpoint.tensors {
        try? named.tensor.streamBytes { _ in }
    }
    return 0
}

exit(runFuzzer { data, size in fuzzSafetensors(data, size) })
