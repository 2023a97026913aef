import PTTensor
import PTZip

/// One tensor of a torch.distributed.checkpoint folder, put together from its chunks: a
/// contiguous storage of shape `[d0, …, dn-1]` whose bytes are the chunks' elements placed in
/// their boxes (`offsets`, `sizes`), as `dcp_to_torch_save` copies them.
///
/// In row-major order a chunk is a sequence of runs: with `k` the first dimension after which
/// the chunk spans every dimension whole, run `j` is `sizes[k] · Π d[k+1…]` elements starting at
/// `Σ_{i<k} (offsets[i] + j_i) · stride_i + offsets[k] · stride_k` (`j` written in the radices
/// `sizes[0..<k]`), and the chunk's own row-major elements are its runs one after the other.
/// Run starts grow with `j`, so the runs crossing a byte range are found by binary search per
/// chunk and handed out in order by a heap over the chunks: O(chunks · log runs) to start, and
/// O(log chunks) a run, however the tensor is split.
final class DCPAssembly {
    struct Part {
        let offsets: [Int]
        let sizes: [Int]
        /// Whether the chunk's runs are read straight from its record: a contiguous chunk whose
        /// archive stores every record (torch's layout). Others (strided, deflated) are gathered
        /// whole once per read.
        let direct: Bool
        /// Opens the chunk's archive and reads its tensor again (both checked when the folder
        /// was opened), so that nothing of it is kept between reads.
        let open: () throws(CheckpointError) -> Opened
    }

    /// A chunk's archive, open for one read.
    struct Opened {
        /// The chunk as its archive holds it: shape `sizes`, any strides.
        let tensor: Tensor
        let archive: ZipArchive
        /// Where the chunk's storage record starts in `archive.file`, for handing its pages back
        /// as it is streamed (nil: do not).
        let recordStart: Int?
    }

    private struct Runs {
        /// The run dimension `k` (0 for a scalar).
        let dim: Int
        /// Elements per run.
        let length: Int
        /// Runs in the chunk.
        let count: Int
    }

    let fqn: String
    let dtype: DType
    let shape: [Int]
    private let parts: [Part]
    private let runs: [Runs]
    private let strides: [Int]
    let byteCount: Int

    /// Bytes handed to a streaming caller at a time (runs smaller than this are gathered).
    static let pieceBytes = 1 << 20
    /// How much of a chunk's record is read before its pages are handed back; each hand-back
    /// reaches this far before where the last one ended, so that a page cut by a run boundary,
    /// kept then, goes the next time (64 KiB covers any page size).
    static let releaseBytes = 1 << 20, releaseOverlap = 64 << 10

    /// - Precondition: the parts' boxes lie inside `shape`, are disjoint and cover it
    ///   (`DCPReader.checkChunks`), and each part's tensor has shape `sizes` and dtype `dtype`.
    init(fqn: String, dtype: DType, shape: [Int], parts: [Part]) {
        self.fqn = fqn
        self.dtype = dtype
        self.shape = shape
        let strides = Tensor.contiguousStrides(for: shape)
        self.strides = strides
        self.byteCount = shape.reduce(1, *) * dtype.itemSize
        let nonEmpty = parts.filter { $0.sizes.allSatisfy { $0 > 0 } }
        self.parts = nonEmpty
        self.runs = nonEmpty.map { part in
            guard !shape.isEmpty else { return Runs(dim: 0, length: 1, count: 1) }
            var k = shape.count - 1
            while k > 0 && part.offsets[k] == 0 && part.sizes[k] == shape[k] { k -= 1 }
            return Runs(dim: k, length: part.sizes[k] * strides[k], count: part.sizes[0..<k].reduce(1, *))
        }
    }

    /// The contiguous storage: loaded whole for computations, streamed run by run for exports.
    func storage() -> Storage {
        let origin = parts.count == 1 ? "1 dcp chunk" : "\(parts.count) dcp chunks"
        return Storage(key: fqn, dtype: dtype, byteCount: byteCount, origin: origin,
                       streamer: { [self] range, body in try stream(range, body) },
                       loader: { [self] in try load() })
    }

    /// The element index of run `j` of part `p` in the whole tensor.
    private func start(_ p: Int, _ j: Int) -> Int {
        let r = runs[p], part = parts[p]
        guard !shape.isEmpty else { return 0 }
        var rest = j
        var start = part.offsets[r.dim] * strides[r.dim]
        var d = r.dim - 1
        while d >= 0 {
            start += (part.offsets[d] + rest % part.sizes[d]) * strides[d]
            rest /= part.sizes[d]
            d -= 1
        }
        return start
    }

    /// Every chunk's elements copied into place.
    /// - Throws: what reading a chunk's storage throws (`CheckpointError`).
    private func load() throws -> StorageBytes {
        let item = dtype.itemSize
        return try StorageBytes(count: byteCount) { dst in
            for p in parts.indices {
                let runBytes = runs[p].length * item
                var run = 0, within = 0
                try parts[p].open().tensor.streamBytes { piece in
                    var rest = piece
                    while !rest.isEmpty {
                        let n = min(runBytes - within, rest.count)
                        let at = start(p, run) * item + within
                        UnsafeMutableRawBufferPointer(rebasing: dst[at ..< at + n])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
                        within += n
                        if within == runBytes { run += 1; within = 0 }
                        rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                    }
                }
            }
        }
    }

    /// `range` of the storage's bytes, in order, a run at a time, never the whole tensor for
    /// torch's layout (a chunk that is strided or deflated is gathered whole, once per call).
    private func stream(_ range: Range<Int>, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !range.isEmpty else { return }
        let item = dtype.itemSize
        var heap = RunHeap()
        // The chunks this range reaches, each opened once for the call.
        var opened: [Int: Opened] = [:]
        for p in parts.indices {
            let r = runs[p]
            var lo = 0, hi = r.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if (start(p, mid) + r.length) * item <= range.lowerBound { lo = mid + 1 } else { hi = mid }
            }
            guard lo < r.count, start(p, lo) * item < range.upperBound else { continue }
            let chunk = try parts[p].open()
            opened[p] = chunk
            // Checked once, so that reading each run reads only the run.
            if parts[p].direct {
                do {
                    try chunk.archive.verifyAllEntries(chunk: DCPAssembly.releaseBytes)
                } catch {
                    throw CheckpointError(error)
                }
            }
            heap.push((start(p, lo) * item, p, lo))
        }
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: DCPAssembly.pieceBytes, alignment: 64)
        defer { piece.deallocate() }
        var filled = 0
        func emit(_ bytes: UnsafeRawBufferPointer) throws {
            var rest = bytes
            while !rest.isEmpty {
                if filled == 0 && rest.count >= piece.count { try body(rest); return }
                let n = min(piece.count - filled, rest.count)
                UnsafeMutableRawBufferPointer(rebasing: piece[filled ..< filled + n])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[0..<n]))
                filled += n
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
                if filled == piece.count { try body(UnsafeRawBufferPointer(piece)); filled = 0 }
            }
        }
        var gathered: [Int: [UInt8]] = [:]
        // Per part, where in its archive's file pages were last handed back up to.
        var released = parts.indices.map { opened[$0]?.recordStart ?? 0 }
        func release(_ p: Int, upTo end: Int) {
            guard let chunk = opened[p], let first = chunk.recordStart else { return }
            chunk.archive.file.releasePages(max(first, released[p] - DCPAssembly.releaseOverlap) ..< end)
            released[p] = end
        }
        while let (runStart, p, j) = heap.pop() {
            let runBytes = runs[p].length * item
            let lo = max(runStart, range.lowerBound), hi = min(runStart + runBytes, range.upperBound)
            // The chunk's own row-major bytes: run j starts at j · runBytes.
            let local = (j * runBytes + lo - runStart) ..< (j * runBytes + hi - runStart)
            let chunk = opened[p]!
            let t = chunk.tensor
            if parts[p].direct {
                let base = t.storageOffset * item
                try t.storage.stream((base + local.lowerBound) ..< (base + local.upperBound)) { try emit($0) }
                // Runs of one chunk come in order: the record's pages behind this one are done with.
                if let first = chunk.recordStart {
                    let end = first + base + local.upperBound
                    if end - released[p] >= DCPAssembly.releaseBytes { release(p, upTo: end) }
                }
            } else {
                if gathered[p] == nil { gathered[p] = try t.contiguousBytes() }
                try gathered[p]!.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[local])) }
            }
            let next = j + 1
            if next < runs[p].count, start(p, next) * item < range.upperBound {
                heap.push((start(p, next) * item, p, next))
            }
        }
        if filled > 0 { try body(UnsafeRawBufferPointer(rebasing: piece[0..<filled])) }
        for (p, chunk) in opened where parts[p].direct {
            release(p, upTo: (chunk.recordStart ?? 0) + chunk.tensor.storage.byteCount)
        }
    }
}

/// A binary min-heap of runs by their first byte.
private struct RunHeap {
    private var items: [(start: Int, part: Int, run: Int)] = []

    mutating func push(_ item: (start: Int, part: Int, run: Int)) {
        items.append(item)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].start < items[parent].start else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (start: Int, part: Int, run: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return top }
        items[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].start < items[m].start { m = l }
            if r < items.count && items[r].start < items[m].start { m = r }
            guard m != i else { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
