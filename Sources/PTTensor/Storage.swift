/// A tensor storage: a run of bytes in one dtype, shared by every tensor that views it.
///
/// The bytes are produced lazily by a loader the checkpoint layer supplies (a zero-copy view of a
/// memory-mapped zip record, a region of a legacy file, or a byte-swapped copy). The loader runs
/// on first use, which is when a zip record's CRC-32 is checked, so listing a 1 GB checkpoint
/// reads no tensor bytes. The result is kept for later uses.
///
/// Errors: this layer cannot name the checkpoint layer's error type, so the loader and streamer
/// are untyped `throws`, and what they throw is passed on unchanged, never wrapped: the storages
/// of a `Checkpoint` throw `CheckpointError` only (a record failing its CRC-32 check is
/// `CheckpointError` with reason `.zip(.crcMismatch)`, the same value `verifyRecords()` gives),
/// so a caller catches that one type, whichever way (`bytes()`, `stream`) the bytes were read.
public final class Storage {
    /// The record key (`data/<key>` in a zip archive, the root key in a legacy file).
    public let key: String
    /// The dtype the storage was saved as (`uint8` for an untyped storage).
    public let dtype: DType
    /// Size in bytes, as declared by the checkpoint and checked against the record.
    public let byteCount: Int
    /// Where the bytes come from, for listings (`data/0`, `legacy storage 3 at offset 1024`).
    public let origin: String

    private let loader: () throws -> StorageBytes
    private var loaded: StorageBytes?

    /// Hands a byte range of the storage to `body` piece by piece, in order, without keeping it
    /// in memory (a mapped record's pages are given back as it goes), and checks the record
    /// (CRC-32) by the end: a throw after some pieces means the pieces were not to be trusted.
    /// Throws the loader's error type for the record's own failures, and `body`'s errors unchanged.
    public typealias Streamer = (Range<Int>, (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    private let streamer: Streamer?

    /// - Parameters:
    ///   - loader: returns exactly `byteCount` bytes; called at most once, on first use.
    ///   - streamer: reads byte ranges without loading the whole storage, where the source can.
    public init(key: String, dtype: DType, byteCount: Int, origin: String, streamer: Streamer? = nil,
                loader: @escaping () throws -> StorageBytes) {
        self.key = key
        self.dtype = dtype
        self.byteCount = byteCount
        self.origin = origin
        self.streamer = streamer
        self.loader = loader
    }

    /// Whether `stream` can read without loading the storage.
    public var streams: Bool { streamer != nil && loaded == nil }

    /// `range` of the storage's bytes, handed to `body` piece by piece: through the streamer
    /// when there is one and nothing is loaded yet, else from the loaded bytes in one piece.
    /// - Precondition: `range` lies within `0..<byteCount`.
    public func stream(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(range.lowerBound >= 0 && range.upperBound <= byteCount, "range outside the storage")
        if let streamer, loaded == nil {
            try withoutActuallyEscaping(body) { try streamer(range, $0) }
            return
        }
        try body(UnsafeRawBufferPointer(rebasing: try bytes()[range]))
    }

    /// A storage over bytes it owns (tests, byte-swapped copies).
    public convenience init(key: String, dtype: DType, bytes: [UInt8], origin: String = "memory") {
        let owned = StorageBytes(copying: bytes)
        self.init(key: key, dtype: dtype, byteCount: bytes.count, origin: origin) { owned }
    }

    /// Whether the bytes have been produced (and, for zip records, CRC-checked) yet.
    public var isLoaded: Bool { loaded != nil }

    /// The storage's bytes, produced on first call.
    /// - Throws: whatever the loader throws (a checkpoint's: `CheckpointError`), unchanged, every
    ///   time it is asked; `TensorError.storageSizeMismatch` when a loader breaks its contract
    ///   (the checkpoint layer checks every record's size before it makes a storage).
    public func bytes() throws -> UnsafeRawBufferPointer {
        if let loaded { return loaded.buffer }
        let fresh = try loader()
        guard fresh.buffer.count == byteCount else {
            throw TensorError.storageSizeMismatch(key: key, declared: byteCount, actual: fresh.buffer.count)
        }
        loaded = fresh
        return fresh.buffer
    }
}

/// Bytes together with whatever keeps them valid: a mapping, an archive, or an owned allocation.
public final class StorageBytes {
    public let buffer: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let allocation: UnsafeMutableRawBufferPointer?

    /// Bytes that stay valid as long as `owner` lives (zero copy).
    public init(borrowing buffer: UnsafeRawBufferPointer, owner: AnyObject) {
        self.buffer = buffer
        self.owner = owner
        self.allocation = nil
    }

    /// An owned copy of `bytes`.
    public convenience init(copying bytes: [UInt8]) {
        self.init(count: bytes.count) { dst in
            bytes.withUnsafeBytes { src in
                if src.count > 0 { dst.copyMemory(from: src) }
            }
        }
    }

    /// An owned buffer of `count` bytes filled by `fill`.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let allocation = UnsafeMutableRawBufferPointer.allocate(byteCount: Swift.max(count, 1), alignment: 64)
        let exact = UnsafeMutableRawBufferPointer(rebasing: allocation[0..<count])
        do {
            try fill(exact)
        } catch {
            allocation.deallocate()
            throw error
        }
        self.allocation = allocation
        self.buffer = UnsafeRawBufferPointer(exact)
        self.owner = nil
    }

    /// A copy of `source` with every `unit`-byte group reversed: how torch reads a storage whose
    /// `byteorder` record says `big` on a little-endian machine.
    public static func byteSwapped(_ source: UnsafeRawBufferPointer, unit: Int) -> StorageBytes {
        StorageBytes(count: source.count) { dst in
            guard source.count > 0 else { return }
            dst.copyMemory(from: source)
            swapBytes(dst, unit: unit)
        }
    }

    /// Reverses every `unit`-byte group of `buffer` in place (each element, or each half of a
    /// complex element: `DType.swapUnit`).
    public static func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, unit: Int) {
        guard unit > 1 else { return }
        var start = 0
        while start + unit <= buffer.count {
            var lo = start, hi = start + unit - 1
            while lo < hi {
                buffer.swapAt(lo, hi)
                lo += 1
                hi -= 1
            }
            start += unit
        }
    }

    deinit { allocation?.deallocate() }
}
