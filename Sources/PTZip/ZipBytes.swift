#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bytes that keep their owner (the archive's mapping, or an owned allocation) alive.
///
/// Keep this object for as long as `buffer` is used: the buffer points into memory this object
/// owns or keeps alive, and it is released when this object goes.
public final class ZipBytes: @unchecked Sendable {
    // @unchecked: immutable after init; the memory it points to is never written again.

    private enum Owner {
        /// A view into the archive's mapping, which stays mapped while this reference lives.
        case mapping(MappedFile)
        /// Memory from `posix_memalign`, released with `free`.
        case allocation(UnsafeMutableRawPointer)
    }

    private let owner: Owner
    private let storage: UnsafeRawBufferPointer

    /// The entry's uncompressed bytes, valid only while this object is alive: Swift may release
    /// an object right after its last use, so `Array(try archive.bytes(of: e).buffer)` can
    /// read freed memory. Hold the `ZipBytes` in a variable, or use `withUnsafeBytes`.
    public var buffer: UnsafeRawBufferPointer { storage }

    /// Calls `body` with the bytes, keeping them alive until it returns.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try withExtendedLifetime(self) { try body(storage) }
    }

    init(view: UnsafeRawBufferPointer, in file: MappedFile) {
        owner = .mapping(file)
        storage = view
    }

    /// Takes ownership of `allocation`, of which the first `count` bytes are the contents.
    init(taking allocation: UnsafeMutableRawPointer, count: Int) {
        owner = .allocation(allocation)
        storage = UnsafeRawBufferPointer(start: allocation, count: count)
    }

    deinit {
        if case .allocation(let pointer) = owner {
            free(pointer)
        }
    }
}
