import PTSafetensors
import PTTensor
import PTZip

/// Reads a `.safetensors` file into a `Checkpoint`: the header checked by `SafetensorsHeader`,
/// every tensor a view of the mapped file; nothing is copied until read. `__metadata__` entries
/// become records named `metadata <key>`.
struct SafetensorsReader {
    let path: String
    let file: MappedFile

    func read() throws -> Checkpoint {
        let header: SafetensorsHeader
        do {
            header = try SafetensorsHeader(parsing: file.bytes)
        } catch {
            throw CheckpointError(path: path, .safetensors(error))
        }
        let file = self.file
        let dataStart = header.dataStart
        let byOffset = header.tensors.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound)
        }
        let tensors = try byOffset.map { e -> NamedTensor in
            let span = e.dataOffsets
            let start = dataStart + span.lowerBound
            let storage = Storage(key: e.name, dtype: e.dtype, byteCount: span.count,
                                  origin: "data[\(span.lowerBound)..<\(span.upperBound)]") {
                StorageBytes(borrowing: UnsafeRawBufferPointer(rebasing: file.bytes[start..<(start + span.count)]),
                             owner: file)
            }
            do {
                let tensor = try Tensor(storage: storage, dtype: e.dtype, shape: e.shape,
                                        strides: Tensor.contiguousStrides(for: e.shape), storageOffset: 0)
                return NamedTensor(key: e.name, tensor: tensor, isParameter: false)
            } catch let error as TensorError {
                throw CheckpointError(path: path, .tensor(key: e.name, error))
            }
        }
        return Checkpoint(path: path, format: .safetensors, archiveName: nil, pickleProtocol: 0,
                          records: header.metadata.map { ("metadata " + $0.key, $0.value) },
                          tensors: tensors, modules: [], opaqueClasses: [], globals: [], constants: [])
    }
}
