import PTCheckpoint
import PTPickle
import PTTensor
import PTTestSupport

/// A torch.save zip of a bare state dict of float32 tensors (keys in sorted order), loaded.
/// - Parameters:
///   - values: each tensor's values, C order.
///   - shapes: each tensor's shape, for the same keys.
func floatStateDict(_ values: [String: [Float]], shapes: [String: [Int]]) throws -> Checkpoint {
    var p = PickleWriter()
    p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce); p.op(.mark)
    var storages: [(String, [UInt8])] = []
    for (i, key) in values.keys.sorted().enumerated() {
        let shape = shapes[key]!
        p.string(key)
        p.tensorV2("FloatStorage", key: "\(i)", numel: values[key]!.count, offset: 0, size: shape,
                   stride: Tensor.contiguousStrides(for: shape))
        storages.append(("\(i)", values[key]!.withUnsafeBytes { Array($0) }))
    }
    p.op(.setitems); p.op(.stop)
    return try Checkpoint.load(path: temporaryFile(torchZip(pickle: p.bytes, storages: storages)))
}
