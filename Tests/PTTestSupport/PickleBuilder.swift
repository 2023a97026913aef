/// Writes protocol-2 pickles opcode by opcode.
public struct PickleBuilder {
    public private(set) var bytes: [UInt8] = [0x80, 2]
    public init(protocol proto: UInt8 = 2) { bytes = [0x80, proto] }

    public mutating func global(_ module: String, _ name: String) { bytes += [0x63] + Array("\(module)\n\(name)\n".utf8) }
    public mutating func mark() { bytes.append(0x28) }
    public mutating func tuple() { bytes.append(0x74) }
    public mutating func emptyTuple() { bytes.append(0x29) }
    public mutating func emptyDict() { bytes.append(0x7D) }
    public mutating func emptyList() { bytes.append(0x5D) }
    public mutating func setItems() { bytes.append(0x75) }
    public mutating func setItem() { bytes.append(0x73) }
    public mutating func appends() { bytes.append(0x65) }
    public mutating func reduce() { bytes.append(0x52) }
    public mutating func build() { bytes.append(0x62) }
    public mutating func newobj() { bytes.append(0x81) }
    public mutating func binpersid() { bytes.append(0x51) }
    public mutating func none() { bytes.append(0x4E) }
    public mutating func bool(_ b: Bool) { bytes.append(b ? 0x88 : 0x89) }
    public mutating func stop() { bytes.append(0x2E) }
    public mutating func int(_ v: Int) {
        if v >= 0 && v < 256 { bytes += [0x4B, UInt8(v)] }
        else if v >= Int(Int32.min) && v <= Int(Int32.max) {
            let u = UInt32(bitPattern: Int32(v))
            bytes += [0x4A] + (0..<4).map { UInt8((u >> (8 * $0)) & 0xFF) }
        } else {
            // LONG1, 8 bytes two's complement.
            let u = UInt64(bitPattern: Int64(v))
            bytes += [0x8A, 8] + (0..<8).map { UInt8((u >> (8 * UInt64($0))) & 0xFF) }
        }
    }
    public mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        let n = UInt32(utf8.count)
        bytes += [0x58] + (0..<4).map { UInt8((n >> (8 * $0)) & 0xFF) } + utf8
    }
    public mutating func ints(_ values: [Int]) {
        mark()
        for v in values { int(v) }
        tuple()
    }
    /// `('storage', torch.<cls>, key, 'cpu', numel)` followed by BINPERSID.
    public mutating func storage(_ cls: String, key: String, numel: Int) {
        mark(); string("storage"); global("torch", cls); string(key); string("cpu"); int(numel); tuple(); binpersid()
    }
    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    public mutating func tensorV2(_ cls: String, key: String, numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        mark()
        storage(cls, key: key, numel: numel)
        int(offset); ints(size); ints(stride); bool(false)
        global("collections", "OrderedDict"); emptyTuple(); reduce()
        tuple()
        reduce()
    }
    public mutating func raw(_ b: [UInt8]) { bytes += b }
}
