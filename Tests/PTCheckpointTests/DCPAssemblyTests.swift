@testable import PTCheckpoint
import PTTensor
import PTTestSupport
import PTZip
import Testing

/// `DCPAssembly` on tensors split in ways the fixtures do not show: boxes cut along every
/// dimension, chunk tensors stored with reversed (column-major) strides, a scalar, and a long
/// column split. Element i of the whole tensor holds the float i, so every byte has one right
/// place; loading and streaming any range must both give exactly that.
@Suite struct DCPAssemblyTests {
    /// Any valid archive: the chunks here are in memory, the archive only answers CRC checks.
    static let archive: ZipArchive = {
        let bytes = zipArchive([.stored("archive/version", text: "3\n")])
        return bytes.withUnsafeBytes { try! ZipArchive(mapped: MappedFile(copying: $0, path: "chunks.zip")) }
    }()

    /// The chunk at `offsets` of `sizes` from a tensor of `shape` whose element i is i, stored
    /// row-major or (`reversed`) with its strides reversed.
    static func part(shape: [Int], offsets: [Int], sizes: [Int], reversed: Bool) throws -> DCPAssembly.Part {
        let full = Tensor.contiguousStrides(for: shape)
        let strides: [Int] = {
            guard reversed else { return Tensor.contiguousStrides(for: sizes) }
            var s = [Int](repeating: 1, count: sizes.count), run = 1
            for d in sizes.indices { s[d] = run; run *= max(sizes[d], 1) }
            return s
        }()
        let count = sizes.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: sizes.count)
        for _ in 0..<count {
            var at = 0, element = 0
            for d in sizes.indices {
                at += index[d] * strides[d]
                element += (offsets[d] + index[d]) * full[d]
            }
            values[at] = Float(element)
            var d = sizes.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < sizes[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        let bytes = values.withUnsafeBytes { Array($0) }
        let storage = Storage(key: "chunk", dtype: .float32, bytes: bytes)
        let tensor = try Tensor(storage: storage, dtype: .float32, shape: sizes, strides: strides, storageOffset: 0)
        let archive = self.archive
        // Opened anew for every read, as the reader's parts are.
        return DCPAssembly.Part(offsets: offsets, sizes: sizes,
                                direct: tensor.isContiguous) { () throws(CheckpointError) in
            return DCPAssembly.Opened(tensor: tensor, archive: archive, recordStart: nil)
        }
    }

    static func expected(_ shape: [Int]) -> [UInt8] {
        (0..<shape.reduce(1, *)).map(Float.init).withUnsafeBytes { Array($0) }
    }

    static func check(shape: [Int], boxes: [(offsets: [Int], sizes: [Int])]) throws {
        let parts = try boxes.enumerated().map { i, box in
            try part(shape: shape, offsets: box.offsets, sizes: box.sizes, reversed: i % 2 == 1)
        }
        try DCPReader.checkChunks(fqn: "t", size: shape, chunks: boxes.map { DCPMetadata.Chunk(offsets: $0.offsets,
                                                                                            sizes: $0.sizes) },
                                  metadataPath: ".metadata")
        let want = expected(shape)
        let n = want.count
        let ranges = [0..<n, 0..<min(n, 4), (n / 2)..<n, (n / 3)..<(2 * n / 3 + 1), 1..<max(1, n - 3)]
        for range in ranges where range.upperBound <= n {
            let streamed = DCPAssembly(fqn: "t", dtype: .float32, shape: shape, parts: parts).storage()
            var got: [UInt8] = []
            try streamed.stream(range) { got.append(contentsOf: $0) }
            #expect(got == Array(want[range]), "\(shape) \(range)")
        }
        let loaded = DCPAssembly(fqn: "t", dtype: .float32, shape: shape, parts: parts).storage()
        #expect(Array(try loaded.bytes()) == want, "\(shape) loaded")
    }

    @Test func boxesCutAlongEveryDimension() throws {
        var boxes: [(offsets: [Int], sizes: [Int])] = []
        for (o0, s0) in [(0, 2), (2, 3)] {
            for (o1, s1) in [(0, 3), (3, 4)] {
                for (o2, s2) in [(0, 1), (1, 2)] { boxes.append(([o0, o1, o2], [s0, s1, s2])) }
            }
        }
        try Self.check(shape: [5, 7, 3], boxes: boxes.reversed())
    }

    @Test func scalarAndEmptyChunks() throws {
        try Self.check(shape: [], boxes: [([], [])])
        try Self.check(shape: [3, 4], boxes: [([0, 0], [3, 4]), ([3, 0], [0, 4])])
    }

    /// Two column chunks of a tall tensor: 2 · 4096 runs of 3 and 5 elements, interleaved.
    @Test func longColumnSplit() throws {
        try Self.check(shape: [4096, 8], boxes: [([0, 0], [4096, 3]), ([0, 3], [4096, 5])])
    }

    /// The chunk checks on their own: rank, and the pairwise check's bound.
    @Test func chunkChecksRefuseRankAndCount() throws {
        func refusal(_ size: [Int], _ chunks: [DCPMetadata.Chunk]) -> CheckpointError? {
            do {
                try DCPReader.checkChunks(fqn: "t", size: size, chunks: chunks, metadataPath: "m")
                return nil
            } catch {
                return error
            }
        }
        #expect(refusal([4, 3], [DCPMetadata.Chunk(offsets: [0], sizes: [4, 3])])
            == CheckpointError(path: "m", .dcp(.chunkRank(fqn: "t", offsets: [0], sizes: [4, 3], size: [4, 3]))))
        let many = (0..<4097).map { DCPMetadata.Chunk(offsets: [$0], sizes: [1]) }
        #expect(refusal([4097], many) == CheckpointError(path: "m", .dcp(.tooManyChunks(fqn: "t", count: 4097,
                                                                                        limit: 4096))))
        #expect(refusal([4096], Array(many.prefix(4096))) == nil)
        #expect(refusal([2, 2], [DCPMetadata.Chunk(offsets: [0, 0], sizes: [2, 2]),
                                 DCPMetadata.Chunk(offsets: [1, 1], sizes: [0, 1])]) == nil)
    }

    /// The sweep finds an overlap wherever it is, and reports the first pair in chunk order.
    @Test func overlapSweep() {
        var grid = (0..<64).flatMap { r in (0..<64).map { c in DCPMetadata.Chunk(offsets: [r, c], sizes: [1, 1]) } }
        #expect(DCPReader.firstOverlap(grid) == nil)
        grid[64 * 40 + 7] = DCPMetadata.Chunk(offsets: [40, 7], sizes: [2, 1])  // reaches (41, 7)
        #expect(DCPReader.firstOverlap(grid).map { [$0.0, $0.1] } == [64 * 40 + 7, 64 * 41 + 7])
        let columns = (0..<4096).map { DCPMetadata.Chunk(offsets: [0, $0], sizes: [9, 1]) }
        #expect(DCPReader.firstOverlap(columns) == nil)
        #expect(DCPReader.firstOverlap([DCPMetadata.Chunk(offsets: [], sizes: []),
                                        DCPMetadata.Chunk(offsets: [], sizes: [])]).map { [$0.0, $0.1] } == [0, 1])
    }
}
