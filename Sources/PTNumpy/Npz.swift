import PTTensor
import PTZip

/// `.npz` archives: a zip of `.npy` members, as `numpy.savez` (stored) and
/// `numpy.savez_compressed` (deflated) write them (`_savez` in `numpy/lib/_npyio_impl.py`);
/// `numpy.load` lists them without the ".npy" suffix (`NpzFile.files`).
enum Npz {
    static let suffix = ".npy"

    /// Every member in archive order. The archive is validated by `ZipArchive` (which refuses
    /// duplicate names, overlaps and bytes outside entries); every name is checked to end in
    /// ".npy" before any member is read; each member's bytes are CRC-checked (stored) or
    /// inflated (deflated) and then read as an `.npy` image.
    static func read(path: String) throws(NumpyError) -> [(name: String, tensor: Tensor)] {
        try read(open(path), only: nil).arrays
    }

    /// The members named in `wanted` (all when nil), and every member's name.
    static func read(path: String, only wanted: [String])
        throws(NumpyError) -> (names: [String], arrays: [(name: String, tensor: Tensor)]) {
        try read(open(path), only: wanted)
    }

    private static func open(_ path: String) throws(NumpyError) -> ZipArchive {
        do throws(ZipError) {
            return try ZipArchive(path: path)
        } catch {
            throw NumpyError(error)
        }
    }

    /// As `read(path:)`, for an archive held in memory (copied first).
    static func read(bytes: UnsafeRawBufferPointer, name: String)
        throws(NumpyError) -> [(name: String, tensor: Tensor)] {
        let archive: ZipArchive
        do throws(ZipError) {
            archive = try ZipArchive(mapped: MappedFile(copying: bytes, path: name))
        } catch {
            throw NumpyError(error)
        }
        return try read(archive, only: nil).arrays
    }

    private static func read(_ archive: ZipArchive, only wanted: [String]?)
        throws(NumpyError) -> (names: [String], arrays: [(name: String, tensor: Tensor)]) {
        let path = archive.path
        for entry in archive.entries where !entry.name.hasSuffix(suffix) {
            throw NumpyError(path: path, member: entry.name, .notNpyMember)
        }
        let names = archive.entries.map { String($0.name.dropLast(suffix.count)) }
        let wantedNames = wanted.map { Set($0.map(ExactName.init)) }
        let chosen = archive.entries.filter {
            wantedNames?.contains(ExactName(String($0.name.dropLast(suffix.count)))) ?? true
        }
        var arrays: [(name: String, tensor: Tensor)] = []
        for entry in chosen {
            let contents: ZipBytes
            do throws(ZipError) {
                contents = try archive.bytes(of: entry)
            } catch {
                throw NumpyError(error)
            }
            let source = NpySource(path: path, member: entry.name)
            // ZipBytes.withUnsafeBytes rethrows (untyped): the typed result is carried out.
            let read = contents.withUnsafeBytes { bytes in
                Result { () throws(NumpyError) in try NpyReader.read(bytes, source: source) }
            }
            arrays.append((String(entry.name.dropLast(suffix.count)), try read.get()))
        }
        return (names, arrays)
    }
}

extension NumpyError {
    /// A zip-layer refusal of the archive: wrapped once, the path kept once (the reason names
    /// the entry itself).
    init(_ zip: ZipError) {
        self.init(path: zip.path, .archive(zip.reason))
    }
}
