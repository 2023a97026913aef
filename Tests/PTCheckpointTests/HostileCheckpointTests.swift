import PTCheckpoint
import PTPickle
import PTTensor
import PTTestSupport
import PTZip
import XCTest

/// Hostile and malformed checkpoints, each built here from bytes so the test shows what is
/// wrong with its input. Every one must be refused with a `CheckpointError` naming the file and
/// the problem, never trap or be read partially.
final class HostileCheckpointTests: XCTestCase {
    /// A state dict `{'w': tensor of 4 float32 at storage '0'}` with tweaks.
    func stateDict(key: String = "0", cls: String = "FloatStorage", numel: Int = 4, offset: Int = 0,
                   size: [Int] = [4], stride: [Int] = [1], before: (inout PickleWriter) -> Void = { _ in }) -> [UInt8] {
        var p = PickleWriter()
        before(&p)
        p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce)
        p.op(.mark)
        p.string("w")
        p.tensorV2(cls, key: key, numel: numel, offset: offset, size: size, stride: stride)
        p.op(.setitems)
        p.op(.stop)
        return p.bytes
    }

    let fourFloats: [UInt8] = [Float(1), 2, 3, 4].withUnsafeBytes { Array($0) }

    func load(_ bytes: [UInt8], strict: Bool = false) throws -> Checkpoint {
        try Checkpoint.load(path: temporaryFile(bytes), options: LoadOptions(strict: strict))
    }

    /// Asserts that loading fails with a message containing every fragment.
    func assertRefused(_ bytes: [UInt8], _ fragments: String..., strict: Bool = false, line: UInt = #line) {
        XCTAssertThrowsError(try load(bytes, strict: strict), line: line) { error in
            guard let e = error as? CheckpointError else {
                return XCTFail("not a CheckpointError: \(error)", line: line)
            }
            let text = e.description
            XCTAssertTrue(text.hasPrefix(e.path + ":"), "does not name the file: \(text)", line: line)
            XCTAssertFalse(text.contains("\n"), "more than one line: \(text)", line: line)
            for f in fragments { XCTAssertTrue(text.contains(f), "'\(f)' missing from: \(text)", line: line) }
        }
    }

    func testBaselineLoads() throws {
        let c = try load(torchZip(pickle: stateDict(), storages: [("0", fourFloats)]))
        XCTAssertEqual(c.tensors.map(\.key), ["w"])
        XCTAssertEqual(try c.tensors[0].tensor.floats(), [1, 2, 3, 4])
        XCTAssertEqual(c.archiveName, "ckpt")
        XCTAssertEqual(c.format, .zip)
    }

    // MARK: code execution is refused whole

    func testOsSystemRefusedEvenInAValidStateDict() {
        for (module, name) in [("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"),
                               ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"),
                               ("builtins", "open"),
                               ("builtins", "__import__"), ("builtins", "compile"), ("__builtin__", "eval"),
                               ("runpy", "_run_code"), ("pty", "spawn"), ("pickle", "loads"),
                               ("importlib", "import_module"),
                               ("ctypes", "CDLL"), ("socket", "create_connection"), ("shutil", "rmtree"),
                               ("sys", "exit"),
                               ("operator", "attrgetter"), ("functools", "partial"), ("torch.serialization", "load"),
                               ("webbrowser", "open"), ("torch", "serialization.os.system")] {
            let pickle = stateDict { p in
                // An unused reference still refuses the file: pushed, then popped.
                p.global(module, name); p.op(.pop)
            }
            assertRefused(torchZip(pickle: pickle, storages: [("0", fourFloats)]), "\(module).\(name)", "refused")
        }
    }

    func testStrictRefusesUserClassesDefaultKeepsThemOpaque() throws {
        let pickle = stateDict { p in
            p.global("__main__", "Net"); p.op(.emptyTuple); p.op(.newobj); p.op(.pop)
        }
        let bytes = torchZip(pickle: pickle, storages: [("0", fourFloats)])
        let c = try load(bytes)
        XCTAssertEqual(c.opaqueClasses, ["__main__.Net"])
        assertRefused(bytes, "__main__.Net", "weights-only allowlist", strict: true)
        // The library names the option as a library caller sets it (a command line words its
        // own line from the reason: CheckpointErrorTests).
        XCTAssertThrowsError(try load(bytes, strict: true)) { error in
            guard let e = error as? CheckpointError else { return XCTFail("\(error)") }
            XCTAssertTrue(e.description.hasSuffix(
                "which is not on the weights-only allowlist (strict loading); refused"), e.description)
            guard case let .refusedGlobal(_, global, why) = e.reason else { return XCTFail("\(e.reason)") }
            XCTAssertEqual(global, "__main__.Net")
            XCTAssertEqual(why, .notWeightsOnly)
        }
    }

    // MARK: storages

    func testStorageIdMustBeWellFormed() {
        var p = PickleWriter()
        p.op(.mark); p.string("module"); p.int(1); p.op(.tuple); p.op(.binpersid); p.op(.stop)
        assertRefused(torchZip(pickle: p.bytes), "type 'module'", "expected 'storage'")
        assertRefused(torchZip(pickle: stateDict(cls: "EvilStorage"), storages: [("0", fourFloats)]),
                      "not a known torch storage class")
        assertRefused(torchZip(pickle: stateDict(key: "../0"), storages: [("0", fourFloats)]),
                      "not a plain record name")
        assertRefused(torchZip(pickle: stateDict(key: "1"), storages: [("0", fourFloats)]), "'ckpt/data/1' is missing")
    }

    func testStorageSizeMustMatchRecord() {
        assertRefused(torchZip(pickle: stateDict(numel: 5), storages: [("0", fourFloats)]),
                      "'ckpt/data/0' has 16 bytes", "5 elements of float32 need 20")
        assertRefused(torchZip(pickle: stateDict(cls: "DoubleStorage", numel: 4), storages: [("0", fourFloats)]),
                      "need 32")
    }

    func testOneKeyReusedAsTwoDTypes() {
        var p = PickleWriter()
        p.global("collections", "OrderedDict"); p.op(.emptyTuple); p.op(.reduce)
        p.op(.mark)
        p.string("a"); p.tensorV2("FloatStorage", key: "0", numel: 4, offset: 0, size: [4], stride: [1])
        p.string("b"); p.tensorV2("IntStorage", key: "0", numel: 4, offset: 0, size: [4], stride: [1])
        p.op(.setitems); p.op(.stop)
        assertRefused(torchZip(pickle: p.bytes, storages: [("0", fourFloats)]), "referenced as float32 and as int32")
    }

    func testViewsOutsideTheirStorage() {
        let storages = [("0", fourFloats)]
        assertRefused(torchZip(pickle: stateDict(offset: 1), storages: storages), "needs 20 bytes", "holds 16")
        assertRefused(torchZip(pickle: stateDict(size: [2, 2], stride: [3, 1]), storages: storages), "needs 20 bytes")
        assertRefused(torchZip(pickle: stateDict(size: [-4], stride: [1]), storages: storages), "negative")
        assertRefused(torchZip(pickle: stateDict(size: [4], stride: [-1]), storages: storages), "negative")
        assertRefused(torchZip(pickle: stateDict(offset: -1), storages: storages), "negative")
        assertRefused(torchZip(pickle: stateDict(size: [2, 2], stride: [1]), storages: storages), "different ranks")
        assertRefused(torchZip(pickle: stateDict(size: [1 << 62, 1 << 62], stride: [1, 1]), storages: storages),
                      "overflow")
        assertRefused(torchZip(pickle: stateDict(size: [1 << 40], stride: [1]), storages: storages), "needs")
        let rank = 100_000
        assertRefused(torchZip(pickle: stateDict(size: Array(repeating: 1, count: rank),
                                                 stride: Array(repeating: 1, count: rank)),
                               storages: storages), "rank 100000")
    }

    func testStrideZeroViewOfHugeSizeIsAcceptedLikeExpand() throws {
        // torch's expand(): 2^40 logical elements over one stored element.
        let c = try load(torchZip(pickle: stateDict(size: [1 << 40], stride: [0]), storages: [("0", fourFloats)]))
        XCTAssertEqual(c.tensors[0].tensor.elementCount, 1 << 40)
    }

    // MARK: records

    func testVersionRecord() throws {
        let storages = [("0", fourFloats)]
        XCTAssertNoThrow(try load(torchZip(pickle: stateDict(), storages: storages, version: "10\n")))
        XCTAssertNoThrow(try load(torchZip(pickle: stateDict(), storages: storages, version: "1")))
        assertRefused(torchZip(pickle: stateDict(), storages: storages, version: "0\n"), "format version 0", "1 to 10")
        assertRefused(torchZip(pickle: stateDict(), storages: storages, version: "11\n"), "format version 11")
        assertRefused(torchZip(pickle: stateDict(), storages: storages, version: "three"), "expected a decimal")
        assertRefused(zipArchive([.stored("ckpt/data.pkl", stateDict()), .stored("ckpt/data/0", fourFloats)]),
                      "'ckpt/version' is missing")
    }

    func testByteOrderRecord() throws {
        assertRefused(torchZip(pickle: stateDict(), storages: [("0", fourFloats)], byteorder: "middle"), "byteorder",
                      "'little' or 'big'")
        // Missing byteorder means little-endian.
        let c = try load(torchZip(pickle: stateDict(), storages: [("0", fourFloats)], byteorder: nil))
        XCTAssertEqual(try c.tensors[0].tensor.floats(), [1, 2, 3, 4])
        // Big: every storage element is byte-swapped, as torch.load does.
        let big = [Float(1), 2, 3, 4].flatMap { f -> [UInt8] in
            withUnsafeBytes(of: f.bitPattern.bigEndian) { Array($0) }
        }
        let b = try load(torchZip(pickle: stateDict(), storages: [("0", big)], byteorder: "big"))
        XCTAssertEqual(try b.tensors[0].tensor.floats(), [1, 2, 3, 4])
    }

    func testArchiveFolderIsFoundByName() throws {
        let c = try load(zipArchive([.stored("weird-name/version", text: "3\n"),
                                     .stored("weird-name/data/0", fourFloats),
                                     .stored("weird-name/data.pkl", stateDict())]))
        XCTAssertEqual(c.archiveName, "weird-name")
        assertRefused(zipArchive([.stored("a/version", text: "3\n")]), "no '<archive>/data.pkl'")
        assertRefused(zipArchive([.stored("a/data.pkl", stateDict()), .stored("b/data.pkl", stateDict()),
                                  .stored("a/version", text: "3")]), "several archives")
    }

    func testCRCIsCheckedWhenBytesAreFirstUsed() throws {
        let c = try load(zipArchive([.stored("ckpt/data.pkl", stateDict()),
                                     .stored("ckpt/data/0", fourFloats).withCRC(0xDEAD_BEEF),
                                     .stored("ckpt/version", text: "3\n")]))  // listing reads no tensor bytes
        XCTAssertThrowsError(try c.tensors[0].tensor.floats()) { error in
            XCTAssertTrue("\(error)".contains("CRC"), "\(error)")
        }
        // A corrupted data.pkl is refused at open, since it is read then.
        assertRefused(zipArchive([.stored("ckpt/data.pkl", stateDict()).withCRC(1), .stored("ckpt/data/0", fourFloats),
                                  .stored("ckpt/version", text: "3\n")]), "CRC")
    }

    func testVerifyRecordsFindsACorruptStorageNothingHasRead() throws {
        let c = try load(zipArchive([.stored("ckpt/data.pkl", stateDict()), .stored("ckpt/data/0", fourFloats),
                                     .stored("ckpt/data/9", [1, 2, 3]).withCRC(0xDEAD_BEEF),  // referenced by nothing
                                     .stored("ckpt/version", text: "3\n")]))
        XCTAssertThrowsError(try c.verifyRecords()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(c.path + ": entry 'ckpt/data/9' has CRC-32"), text)
        }
        let good = try load(torchZip(pickle: stateDict(), storages: [("0", fourFloats)]))
        XCTAssertTrue(try good.verifyRecords())
    }

    func testBytesAfterStopAreRefused() {
        // A second pickle hidden after data.pkl's STOP is a payload for some other reader.
        var second = PickleWriter()
        second.op(.none); second.op(.stop)
        let hidden = stateDict() + second.bytes
        assertRefused(torchZip(pickle: hidden, storages: [("0", fourFloats)]),
                      "record 'ckpt/data.pkl' has 4 bytes after the pickle's STOP opcode")
    }

    func testSharedReferencesCannotExpandTheWalkWithoutLimit() throws {
        // A tensor in a list of ten references to it, that list ten times in the next, six deep:
        // a million keys. The walk stops at its step limit with a fixed error.
        var p = PickleWriter()
        p.op(.emptyDict)
        p.string("w")
        p.tensorV2("FloatStorage", key: "0", numel: 4, offset: 0, size: [4], stride: [1])
        p.put(0); p.op(.pop)
        for level in 1...6 {
            p.op(.emptyList); p.op(.mark)
            for _ in 0..<10 { p.get(level - 1) }
            p.op(.appends); p.put(level)
            if level < 6 { p.op(.pop) }
        }
        p.op(.setitem)                           // {'w': <level 6>}
        p.op(.stop)
        let bytes = torchZip(pickle: p.bytes, storages: [("0", fourFloats)])
        let path = temporaryFile(bytes)
        XCTAssertThrowsError(try Checkpoint.load(path: path, options: LoadOptions(maxWalkSteps: 50_000))) { error in
            XCTAssertEqual("\(error)",
                           "\(path): walking the pickled value meets more than 50000 containers and tensors (shared"
                               + " references are met once per path); refused as an expansion attack")
        }
        // Under a limit of two million steps, the same file lists its 10^6 keys.
        let c = try Checkpoint.load(path: path, options: LoadOptions(maxWalkSteps: 2_000_000))
        XCTAssertEqual(c.tensors.count, 1_000_000)
        XCTAssertEqual(c.tensors.last?.key, "w.9.9.9.9.9.9")
    }

    // MARK: rebuild calls

    func testRebuildArgumentsAreChecked() {
        var p = PickleWriter()
        p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.mark); p.int(1); p.op(.tuple); p.op(.reduce); p.op(.stop)
        assertRefused(torchZip(pickle: p.bytes), "_rebuild_tensor_v2 takes 6 to 7 arguments, got 1")
        var q = PickleWriter()
        q.global("torch._utils", "_rebuild_tensor_v2"); q.op(.mark)
        q.string("not a storage"); q.int(0); q.ints([1]); q.ints([1]); q.bool(false); q.op(.none); q.op(.tuple);
        q.op(.reduce); q.op(.stop)
        assertRefused(torchZip(pickle: q.bytes), "expects a storage")
        var s = PickleWriter()
        s.global("torch._utils", "_rebuild_sparse_tensor"); s.op(.emptyTuple); s.op(.reduce); s.op(.stop)
        assertRefused(torchZip(pickle: s.bytes), "sparse")
    }

    // MARK: resource limits and structure

    func testDeepNestingIsAnErrorNotACrash() {
        var p = PickleWriter()
        for _ in 0..<200_000 { p.op(.emptyList) }
        for _ in 0..<(200_000 - 1) { p.op(.append) }
        p.op(.stop)
        assertRefused(torchZip(pickle: p.bytes), "data.pkl")
    }

    func testTruncationAtEveryOffsetNeverTraps() throws {
        let bytes = torchZip(pickle: stateDict(), storages: [("0", fourFloats)])
        XCTAssertNoThrow(try load(bytes))
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try load(Array(bytes[0..<cut])), "prefix of \(cut) bytes") { error in
                XCTAssertTrue(error is CheckpointError, "\(error)")
            }
        }
    }

    func testNotACheckpoint() {
        assertRefused([], "empty")
        assertRefused(Array("hello world".utf8), "neither a zip header nor a pickle")
        var tar = [UInt8](repeating: 0, count: 1024)
        tar.replaceSubrange(257..<262, with: Array("ustar".utf8))
        assertRefused(tar, "tar archive")
        XCTAssertThrowsError(try Checkpoint.load(path: "/nonexistent/model.pt")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/model.pt"), "\(error)")
        }
    }
}
