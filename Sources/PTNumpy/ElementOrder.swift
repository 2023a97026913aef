/// Rearranging array bytes: Fortran to C order, and big- to little-endian.
enum ElementOrder {
    /// Copies a Fortran-order array of `shape` into `destination` in C order.
    ///
    /// Element `(i0, …, iN-1)` lies at `Σ ik · sk` items in the source, where `s0 = 1` and
    /// `sk = sk-1 · shape[k-1]` (what `array.reshape(shape[::-1]).transpose()` reads in numpy's
    /// `read_array`). The destination is walked in C order with an odometer over the indices.
    /// Both buffers hold exactly `product(shape) · itemSize > 0` bytes.
    static func fortranToC(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                           shape: [Int], itemSize: Int) {
        let rank = shape.count
        var sourceStrides = [Int](repeating: itemSize, count: rank)
        for axis in 1 ..< max(rank, 1) {
            sourceStrides[axis] = sourceStrides[axis - 1] * shape[axis - 1]
        }
        var index = [Int](repeating: 0, count: rank)
        var sourceOffset = 0
        var destinationOffset = 0
        while destinationOffset < destination.count {
            for byte in 0 ..< itemSize {
                destination[destinationOffset + byte] = source[sourceOffset + byte]
            }
            destinationOffset += itemSize
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                sourceOffset += sourceStrides[axis]
                if index[axis] < shape[axis] { break }
                sourceOffset -= sourceStrides[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
