import Foundation
import PTZip

/// Builds zip archives byte by byte, so that each test can state exactly what is wrong with
/// the archive it feeds the reader. Defaults produce what Python's zipfile and PyTorch write.
public struct ZipFixture {
    public struct Entry {
        public var name: [UInt8]
        /// The bytes written as the entry's data (already compressed for deflate).
        public var data: [UInt8]
        public var method: UInt16
        public var crc: UInt32
        public var uncompressedSize: UInt64
        public var flags: UInt16 = 0
        /// A different name for the local header; nil repeats the central directory's.
        public var localName: [UInt8]?
        public var localExtra: [UInt8] = []
        public var centralExtra: [UInt8] = []
        /// Sizes (and, in the central directory, the local header offset) through ZIP64 extra
        /// fields, with 0xFFFFFFFF in the 32-bit fields, as writers do for entries over 4 GiB.
        public var zip64 = false
        /// Bit 3: zeros in the local header's CRC and sizes, and a signed data descriptor after the data.
        public var dataDescriptor = false
        /// Zero bytes of data after `data`, counted in sizes and offsets but left as a hole in the
        /// file (see `BuiltZip.writeSparse`), for archives too large to hold in memory.
        public var hole = 0

        /// The compressed size: the data written plus the hole after it.
        public var storedCount: Int { data.count + hole }

        public static func stored(_ name: String, _ contents: [UInt8]) -> Entry {
            Entry(name: Array(name.utf8), data: contents, method: 0, crc: checksum(contents),
                  uncompressedSize: UInt64(contents.count), localName: nil)
        }

        public static func deflated(_ name: String, compressed: [UInt8], uncompressed: [UInt8]) -> Entry {
            Entry(name: Array(name.utf8), data: compressed, method: 8, crc: checksum(uncompressed),
                  uncompressedSize: UInt64(uncompressed.count), localName: nil)
        }
    }

    public var entries: [Entry]
    /// Bytes before the first local header; all offsets are shifted past them (as `zip -A` does).
    public var prefix: [UInt8] = []
    /// Write a ZIP64 end of central directory record and locator.
    public var zip64EndRecords = false
    /// With ZIP64 end records: put the 0xFFFF/0xFFFFFFFF placeholders in the classic end record
    /// (as for huge archives) instead of the real values (as miniz, hence PyTorch, does).
    public var classicPlaceholders = true
    /// Pad each local header with a 'FB' extra field so data starts on this boundary, as PyTorch does.
    public var alignment: Int?
    public var comment: [UInt8] = []

    public init(_ entries: [Entry]) {
        self.entries = entries
    }

    public func build() -> BuiltZip {
        var out = ByteWriter()
        out.bytes = prefix
        var localOffsets: [Int] = []
        var centralExtras: [[UInt8]] = []
        for entry in entries {
            let offset = out.position
            localOffsets.append(offset)
            let localName = entry.localName ?? entry.name
            var extra: [UInt8] = []
            if entry.zip64 {
                var field = ByteWriter()
                field.u16(1); field.u16(16); field.u64(entry.uncompressedSize); field.u64(UInt64(entry.storedCount))
                extra += field.bytes
            }
            extra += entry.localExtra
            if let alignment {
                let start = offset + 30 + localName.count + extra.count + 4
                let padding = (alignment - start % alignment) % alignment
                var field = ByteWriter()
                field.u16(0x4246); field.u16(UInt16(padding))
                extra += field.bytes + [UInt8](repeating: UInt8(ascii: "Z"), count: padding)
            }
            let sizeField: UInt32 = entry.zip64 ? 0xFFFF_FFFF : UInt32(truncatingIfNeeded: entry.storedCount)
            let usizeField: UInt32 = entry.zip64 ? 0xFFFF_FFFF : UInt32(truncatingIfNeeded: entry.uncompressedSize)
            out.u32(0x0403_4b50)
            out.u16(entry.zip64 ? 45 : 20)
            out.u16(entry.flags | (entry.dataDescriptor ? 8 : 0))
            out.u16(entry.method)
            out.u16(0x6000); out.u16(0x5821)  // time, date
            out.u32(entry.dataDescriptor ? 0 : entry.crc)
            out.u32(entry.dataDescriptor ? 0 : sizeField)
            out.u32(entry.dataDescriptor ? 0 : usizeField)
            out.u16(UInt16(localName.count))
            out.u16(UInt16(extra.count))
            out.bytes += localName + extra + entry.data
            out.hole(entry.hole)
            if entry.dataDescriptor {
                out.u32(0x0807_4b50)
                out.u32(entry.crc)
                if entry.zip64 {
                    out.u64(UInt64(entry.storedCount)); out.u64(entry.uncompressedSize)
                } else {
                    out.u32(UInt32(entry.storedCount)); out.u32(UInt32(entry.uncompressedSize))
                }
            }
            var central: [UInt8] = []
            if entry.zip64 {
                var field = ByteWriter()
                field.u16(1); field.u16(24)
                field.u64(entry.uncompressedSize); field.u64(UInt64(entry.storedCount)); field.u64(UInt64(offset))
                central = field.bytes
            }
            centralExtras.append(central + entry.centralExtra)
        }

        let centralDirectoryOffset = out.position
        var centralOffsets: [Int] = []
        for (index, entry) in entries.enumerated() {
            centralOffsets.append(out.position)
            out.u32(0x0201_4b50)
            out.u16(0x0314)  // made by Unix, 2.0
            out.u16(entry.zip64 ? 45 : 20)
            out.u16(entry.flags | (entry.dataDescriptor ? 8 : 0))
            out.u16(entry.method)
            out.u16(0x6000); out.u16(0x5821)
            out.u32(entry.crc)
            out.u32(entry.zip64 ? 0xFFFF_FFFF : UInt32(truncatingIfNeeded: entry.storedCount))
            out.u32(entry.zip64 ? 0xFFFF_FFFF : UInt32(truncatingIfNeeded: entry.uncompressedSize))
            out.u16(UInt16(entry.name.count))
            out.u16(UInt16(centralExtras[index].count))
            out.u16(0)  // comment
            out.u16(0)  // disk
            out.u16(0)  // internal attributes
            out.u32(0o100644 << 16)
            out.u32(entry.zip64 ? 0xFFFF_FFFF : UInt32(localOffsets[index]))
            out.bytes += entry.name + centralExtras[index]
        }
        let centralDirectorySize = out.position - centralDirectoryOffset

        var zip64EndOffset: Int?
        if zip64EndRecords {
            zip64EndOffset = out.position
            out.u32(0x0606_4b50)
            out.u64(44)
            out.u16(45); out.u16(45)
            out.u32(0); out.u32(0)
            out.u64(UInt64(entries.count)); out.u64(UInt64(entries.count))
            out.u64(UInt64(centralDirectorySize)); out.u64(UInt64(centralDirectoryOffset))
            out.u32(0x0706_4b50)
            out.u32(0)
            out.u64(UInt64(zip64EndOffset ?? 0))
            out.u32(1)
        }
        let placeholders = zip64EndRecords && classicPlaceholders
        let endOffset = out.position
        out.u32(0x0605_4b50)
        out.u16(0); out.u16(0)
        out.u16(placeholders ? 0xFFFF : UInt16(entries.count))
        out.u16(placeholders ? 0xFFFF : UInt16(entries.count))
        out.u32(placeholders ? 0xFFFF_FFFF : UInt32(centralDirectorySize))
        out.u32(placeholders ? 0xFFFF_FFFF : UInt32(centralDirectoryOffset))
        out.u16(UInt16(comment.count))
        out.bytes += comment

        return BuiltZip(bytes: out.bytes, holes: out.holes, localHeaders: localOffsets, centralHeaders: centralOffsets,
                        centralDirectoryOffset: centralDirectoryOffset, centralDirectorySize: centralDirectorySize,
                        zip64EndRecord: zip64EndOffset, endRecord: endOffset)
    }
}

/// A built archive and where its records are, for tests that break one field.
public struct BuiltZip {
    /// The archive, except for holes.
    public var bytes: [UInt8]
    /// Where (in `bytes`) runs of zeros were left out, and how long they are.
    public var holes: [(at: Int, length: Int)] = []
    public var localHeaders: [Int]
    public var centralHeaders: [Int]
    public var centralDirectoryOffset: Int
    public var centralDirectorySize: Int
    public var zip64EndRecord: Int?
    public var endRecord: Int

    /// Field offsets within a local header.
    public enum Local {
        public static let signature = 0, flags = 6, method = 8, crc = 14, compressedSize = 18, uncompressedSize = 22
        public static let nameLength = 26, extraLength = 28, name = 30
    }

    /// Field offsets within a central directory header.
    public enum Central {
        public static let signature = 0, flags = 8, method = 10, crc = 16, compressedSize = 20, uncompressedSize = 24
        public static let nameLength = 28, extraLength = 30, disk = 34, localHeaderOffset = 42, name = 46
    }

    /// Field offsets within the end of central directory record.
    public enum End {
        public static let disk = 4, entriesOnDisk = 8, entries = 10, size = 12, offset = 16, commentLength = 20
    }

    /// Writes the archive with its holes as holes in a sparse file.
    public func writeSparse(to path: String) throws {
        guard let file = fopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
        defer { fclose(file) }
        var written = 0
        for (at, length) in holes + [(at: bytes.count, length: 0)] {
            bytes[written ..< at].withUnsafeBytes { _ = fwrite($0.baseAddress, 1, $0.count, file) }
            fseeko(file, off_t(length), SEEK_CUR)
            written = at
        }
    }

    public mutating func put16(_ value: UInt16, at offset: Int) { put(UInt64(value), width: 2, at: offset) }
    public mutating func put32(_ value: UInt32, at offset: Int) { put(UInt64(value), width: 4, at: offset) }
    public mutating func put64(_ value: UInt64, at offset: Int) { put(value, width: 8, at: offset) }

    private mutating func put(_ value: UInt64, width: Int, at offset: Int) {
        for index in 0 ..< width {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))
        }
    }
}

public struct ByteWriter {
    public var bytes: [UInt8] = []
    public private(set) var holes: [(at: Int, length: Int)] = []
    private var skipped = 0
    /// The offset in the archive of the next byte written.
    public var position: Int { bytes.count + skipped }
    public mutating func hole(_ length: Int) {
        guard length > 0 else { return }
        holes.append((bytes.count, length))
        skipped += length
    }
    public mutating func u16(_ value: UInt16) { append(UInt64(value), 2) }
    public mutating func u32(_ value: UInt32) { append(UInt64(value), 4) }
    public mutating func u64(_ value: UInt64) { append(value, 8) }
    private mutating func append(_ value: UInt64, _ width: Int) {
        for index in 0 ..< width { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }
}

public func checksum(_ bytes: [UInt8]) -> UInt32 {
    bytes.withUnsafeBytes { crc32($0) }
}

/// Raw deflate (zlib.compressobj(9, zlib.DEFLATED, -15)) of `Samples.foxText`, computed once with Python.
public enum Samples {
    public static let foxText = Array(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 8).utf8)
    public static let foxCRC: UInt32 = 0xE30F_16BB
    public static let foxDeflated: [UInt8] = [
        11, 201, 72, 85, 40, 44, 205, 76, 206, 86, 72, 42, 202, 47, 207, 83, 72, 203, 175, 80, 200, 42, 205, 45,
        40, 86, 200, 47, 75, 45, 82, 40, 1, 74, 231, 36, 86, 85, 42, 164, 228, 167, 235, 41, 132, 140, 42, 38, 87,
        49, 0,
    ]
    /// Raw deflate of no bytes at all.
    public static let emptyDeflated: [UInt8] = [3, 0]

    /// Exactly what Python 3's zipfile writes for `zf.open("a.txt", "w", force_zip64=True).write(b"hello")`:
    /// a ZIP64 extra field in the local header only, sizes 0xFFFFFFFF there.
    public static let pythonForceZip64 = hexBytes(
        "504b03042d00000000000000210086a61036ffffffffffffffff05001400612e747874010010000500000000000000050000"
            + "000000000068656c6c6f504b01022d032d00000000000000210086a6103605000000050000000500000000000000000000"
            + "00800100000000612e747874504b05060000000001000100330000003c0000000000")

    public static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var digits = hex.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.append(UInt8(String([high, low]), radix: 16) ?? 0)
        }
        return bytes
    }
}
