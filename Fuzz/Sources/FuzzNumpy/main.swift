import Foundation
import FuzzSupport
import PTNumpy
import PTTensor

/// Reads the input as an .npy image, or as an .npz when it starts with a zip signature, then
/// reads every array's values the way the verifier does.
func fuzzNumpy(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let arrays: [(name: String, tensor: Tensor)]
    if size >= 2 && bytes[0] == 0x50 && bytes[1] == 0x4B {
        guard let read = try? Numpy.readNpz(bytes: bytes, name: "fuzz.npz") else { return 0 }
        arrays = read
    } else {
        guard let read = try? Numpy.readNpy(bytes: bytes, name: "fuzz.npy") else { return 0 }
        arrays = [("array", read)]
    }
    for (_, tensor) in arrays {
        _ = try? tensor.doubles()
    }
    return 0
}

exit(runFuzzer { data, size in fuzzNumpy(data, size) })
