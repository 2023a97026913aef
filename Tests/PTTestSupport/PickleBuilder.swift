import PTPickle

/// torch's pickle shapes for tests, on `PickleWriter` (whose init writes PROTO 2): storages and
/// `_rebuild_tensor_v2` calls with whatever class, key, offset, size and stride a test means
/// to give, valid or not.
extension PickleWriter {
    /// `('storage', torch.<cls>, key, 'cpu', numel)` followed by BINPERSID.
    public mutating func storage(_ cls: String, key: String, numel: Int) {
        op(.mark)
        string("storage"); global("torch", cls); string(key); string("cpu"); int(numel)
        op(.tuple)
        op(.binpersid)
    }

    /// `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    public mutating func tensorV2(_ cls: String, key: String, numel: Int, offset: Int, size: [Int], stride: [Int]) {
        global("torch._utils", "_rebuild_tensor_v2")
        op(.mark)
        storage(cls, key: key, numel: numel)
        int(offset); ints(size); ints(stride); bool(false)
        global("collections", "OrderedDict"); op(.emptyTuple); op(.reduce)
        op(.tuple)
        op(.reduce)
    }
}
