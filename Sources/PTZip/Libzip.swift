internal import CLibzip

/// What libzip reports about one entry (`zip_stat_index`), for cross-checking.
struct LibzipStat {
    let rawName: [UInt8]?
    let size: UInt64?
    let compressedSize: UInt64?
    let crc32: UInt32?
    let method: UInt16?
    let isEncrypted: Bool
}

/// The one place that calls libzip: opens an archive over bytes already in memory, describes
/// its entries and inflates them, turning every libzip failure into a `ZipError` that names
/// the file, the entry and libzip's own message.
///
/// A libzip archive is not thread-safe; callers serialize access.
final class LibzipArchive {
    private let handle: OpaquePointer
    private let path: String
    /// libzip reads straight from the mapping, so the mapping must outlive the handle.
    private let file: MappedFile

    /// Opens the mapped file with `ZIP_RDONLY | ZIP_CHECKCONS`.
    ///
    /// libzip reads the same mapping this reader parsed, rather than reopening the path: a
    /// file replaced in between could otherwise give libzip different bytes from the ones
    /// that were validated and that stored entries are served from.
    init(file: MappedFile) throws(ZipError) {
        let path = file.path
        let bytes = file.bytes
        self.path = path
        self.file = file
        var error = zip_error_t()
        zip_error_init(&error)
        defer { zip_error_fini(&error) }

        guard let source = zip_source_buffer_create(bytes.baseAddress, UInt64(bytes.count), 0, &error) else {
            throw LibzipArchive.zipError(&error, path: path, entry: nil)
        }
        guard let archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error) else {
            // On failure the source still belongs to us.
            zip_source_free(source)
            throw LibzipArchive.zipError(&error, path: path, entry: nil)
        }
        handle = archive
    }

    deinit {
        // Read-only: nothing to write back, so discard rather than close.
        zip_discard(handle)
    }

    /// The corresponding libzip function is `zip_get_num_entries`.
    var entryCount: Int {
        Int(zip_get_num_entries(handle, 0))
    }

    /// The entry's metadata as libzip decoded it; fields libzip marks invalid are nil.
    /// The corresponding libzip function is `zip_stat_index`.
    func stat(index: Int, entry: String) throws(ZipError) -> LibzipStat {
        var info = zip_stat_t()
        zip_stat_init(&info)
        guard zip_stat_index(handle, UInt64(index), ZIP_FL_ENC_RAW, &info) == 0 else {
            throw LibzipArchive.zipError(zip_get_error(handle), path: path, entry: entry)
        }
        func has(_ flag: UInt32) -> Bool { info.valid & UInt64(flag) != 0 }
        let rawName = has(ZIP_STAT_NAME) ? info.name.map(LibzipArchive.bytes(ofCString:)) : nil
        return LibzipStat(
            rawName: rawName,
            size: has(ZIP_STAT_SIZE) ? info.size : nil,
            compressedSize: has(ZIP_STAT_COMP_SIZE) ? info.comp_size : nil,
            crc32: has(ZIP_STAT_CRC) ? info.crc : nil,
            method: has(ZIP_STAT_COMP_METHOD) ? info.comp_method : nil,
            isEncrypted: has(ZIP_STAT_ENCRYPTION_METHOD) && info.encryption_method != UInt16(ZIP_EM_NONE))
    }

    /// Inflates the entry into `destination`, reading until libzip reports the end so that it
    /// checks the CRC-32 and size; returns how many bytes the entry produced (more than
    /// `destination.count` if it inflates to more than declared, in which case the excess
    /// is read and dropped).
    /// The corresponding libzip functions are `zip_fopen_index` and `zip_fread`.
    func inflate(index: Int, entry: String, declaredCRC: UInt32,
                 into destination: UnsafeMutableRawBufferPointer) throws(ZipError) -> Int {
        guard let file = zip_fopen_index(handle, UInt64(index), 0) else {
            throw LibzipArchive.zipError(zip_get_error(handle), path: path, entry: entry)
        }
        defer { zip_fclose(file) }

        // Past the declared size, reading goes on into scratch space: zip_fread with length 0
        // returns 0 without checking anything, and the excess must be counted to report it.
        let scratchSize = 1 << 16
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchSize, alignment: 16)
        defer { scratch.deallocate() }

        var total = 0
        while true {
            let count: Int64
            if total < destination.count, let base = destination.baseAddress {
                count = zip_fread(file, base + total, UInt64(destination.count - total))
            } else {
                count = zip_fread(file, scratch, UInt64(scratchSize))
            }
            if count == 0 { return total }
            guard count > 0 else {
                throw readError(zip_file_get_error(file), entry: entry, declaredCRC: declaredCRC,
                                destination: UnsafeRawBufferPointer(destination), total: total)
            }
            total += Int(count)
        }
    }

    /// libzip checks the CRC-32 and size only when the data ends; those failures become the
    /// errors a stored entry would give, with the actual values filled in.
    private func readError(_ error: UnsafeMutablePointer<zip_error_t>, entry: String, declaredCRC: UInt32,
                           destination: UnsafeRawBufferPointer, total: Int) -> ZipError {
        let code = zip_error_code_zip(error)
        if total > destination.count || (code == ZIP_ER_INCONS && total != destination.count) {
            return ZipError(path: path, .sizeMismatch(entry: entry, declared: destination.count, actual: total))
        }
        if code == ZIP_ER_CRC {
            let produced = UnsafeRawBufferPointer(rebasing: destination[..<total])
            return ZipError(path: path, .crcMismatch(entry: entry, declared: declaredCRC, actual: crc32(produced)))
        }
        return LibzipArchive.zipError(error, path: path, entry: entry)
    }

    /// The bytes of a NUL-terminated string, unchanged (decoding it would repair invalid UTF-8).
    private static func bytes(ofCString string: UnsafePointer<CChar>) -> [UInt8] {
        var bytes: [UInt8] = []
        var next = string
        while next.pointee != 0 {
            bytes.append(UInt8(bitPattern: next.pointee))
            next += 1
        }
        return bytes
    }

    /// The corresponding libzip functions are `zip_error_code_zip` and `zip_error_strerror`.
    private static func zipError(_ error: UnsafeMutablePointer<zip_error_t>, path: String, entry: String?) -> ZipError {
        ZipError(path: path, .libzip(entry: entry, code: zip_error_code_zip(error),
                                     message: String(cString: zip_error_strerror(error))))
    }
}
