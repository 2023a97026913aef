import PTTensor

/// Rearranging array bytes from Fortran to C order.
enum ElementOrder {
    /// Copies a Fortran-order array of `shape` into `destination` in C order.
    ///
    /// Element `(i0, …, iN-1)` lies at `Σ ik · sk` items in the source, where `s0 = 1` and
    /// `sk = sk-1 · shape[k-1]` (what `array.reshape(shape[::-1]).transpose()` reads in numpy's
    /// `read_array`): a strided view, walked in C order by `Tensor.forEachOffset`.
    /// Both buffers hold exactly `product(shape) · itemSize > 0` bytes.
    static func fortranToC(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                           shape: [Int], itemSize: Int) {
        var strides = [Int](repeating: 1, count: shape.count)
        for axis in 1 ..< max(shape.count, 1) {
            strides[axis] = strides[axis - 1] * shape[axis - 1]
        }
        var written = 0
        Tensor.forEachOffset(shape: shape, strides: strides, offset: 0,
                             count: destination.count / itemSize) { element in
            let from = element * itemSize
            destination.baseAddress!.advanced(by: written)
                .copyMemory(from: source.baseAddress!.advanced(by: from), byteCount: itemSize)
            written += itemSize
        }
    }
}
