import PTCheckpoint
import PTPickle
import PTTensor
import PTTestSupport
import PTZip
import XCTest

/// Refusals as values: each cause is one typed reason carrying its data, and its line is exact.
extension HostileCheckpointTests {
    /// The error loading `bytes` throws (`Checkpoint.load` throws `CheckpointError` only).
    func refusal(_ bytes: [UInt8], strict: Bool = false, line: UInt = #line) -> CheckpointError? {
        do {
            _ = try Checkpoint.load(path: temporaryFile(bytes), options: LoadOptions(strict: strict))
            XCTFail("loaded", line: line)
            return nil
        } catch {
            return error
        }
    }

    /// Asserts the reason and the whole line (`path: ` then `text`).
    func assertRefusal(_ bytes: [UInt8], _ reason: CheckpointError.Reason, _ text: String, strict: Bool = false,
                       line: UInt = #line) {
        guard let error = refusal(bytes, strict: strict, line: line) else { return }
        XCTAssertEqual(error.reason, reason, line: line)
        XCTAssertEqual(error.description, "\(error.path): \(text)", line: line)
    }

    func testEachCauseIsATypedReason() {
        let storages = [("0", fourFloats)]
        assertRefusal([], .notACheckpoint(.emptyFile), "not a PyTorch checkpoint: the file is empty")
        assertRefusal(zipArchive([.stored("a/version", text: "3\n")]), .layout(.noDataPickle),
                      "no '<archive>/data.pkl' record: a zip file, but not a PyTorch checkpoint")
        assertRefusal(torchZip(pickle: stateDict(), storages: storages, version: "11\n"),
                      .layout(.unsupportedVersion(record: "ckpt/version", version: 11, supported: 1...10)),
                      "record 'ckpt/version' says format version 11; PyTorch reads 1 to 10")
        assertRefusal(torchZip(pickle: stateDict(), storages: storages, byteorder: "middle"),
                      .layout(.badByteOrder(record: "ckpt/byteorder", text: "middle")),
                      "record 'ckpt/byteorder' holds 'middle'; expected 'little' or 'big'")
        assertRefusal(torchZip(pickle: stateDict(numel: 5), storages: storages),
                      .storage(.recordSize(record: "ckpt/data/0", byteCount: 16, elements: 5, dtype: .float32,
                                           needed: 20)),
                      "storage record 'ckpt/data/0' has 16 bytes; 5 elements of float32 need 20")
        assertRefusal(torchZip(pickle: stateDict(key: "1"), storages: storages),
                      .storage(.missingRecord("ckpt/data/1")),
                      "storage record 'ckpt/data/1' is missing")
        var p = PickleWriter()
        p.global("torch._utils", "_rebuild_tensor_v2"); p.op(.mark); p.int(1); p.op(.tuple); p.op(.reduce); p.op(.stop)
        assertRefusal(torchZip(pickle: p.bytes),
                      .rebuild(callable: "torch._utils._rebuild_tensor_v2", .argumentCount(expected: 6...7, found: 1)),
                      "torch._utils._rebuild_tensor_v2 takes 6 to 7 arguments, got 1")
        assertRefusal(torchZip(pickle: stateDict(size: [-4], stride: [1]), storages: storages),
                      .tensor(key: nil, .negativeSize(shape: [-4])), "tensor size [-4] has a negative dimension")
    }

    /// The library says "strict loading"; the typed reason lets a command line name its flag.
    func testAStrictRefusalCarriesItsData() throws {
        let pickle = stateDict { p in
            p.global("__main__", "Net"); p.op(.emptyTuple); p.op(.newobj); p.op(.pop)
        }
        let bytes = torchZip(pickle: pickle, storages: [("0", fourFloats)])
        assertRefusal(bytes, .refusedGlobal(record: "ckpt/data.pkl", global: "__main__.Net", why: .notWeightsOnly),
                      "ckpt/data.pkl references __main__.Net, which is not on the weights-only allowlist (strict"
                          + " loading); refused",
                      strict: true)
        // What ptload prints for --strict, worded from the reason.
        let error = try XCTUnwrap(refusal(bytes, strict: true))
        guard case let .refusedGlobal(record, global, .notWeightsOnly) = error.reason else {
            return XCTFail("\(error)")
        }
        XCTAssertEqual("\(error.path): \(record) references \(global), which is not on the weights-only allowlist"
                           + " (--strict); refused",
                       "\(error.path): ckpt/data.pkl references __main__.Net, which is not on the weights-only"
                           + " allowlist (--strict); refused")
    }

    /// A storage record failing its CRC-32 check is one value, whether the records are verified
    /// up front or the tensor's bytes are read (whole or streamed).
    func testACorruptStorageIsOneErrorWhicheverWayItIsRead() throws {
        let c = try load(zipArchive([.stored("ckpt/data.pkl", stateDict()),
                                     .stored("ckpt/data/0", fourFloats).withCRC(0xDEAD_BEEF),
                                     .stored("ckpt/version", text: "3\n")]))
        let expected = CheckpointError(path: c.path, .zip(.crcMismatch(entry: "ckpt/data/0", declared: 0xDEAD_BEEF,
                                                                       actual: checksum(fourFloats))))
        let actual = String(checksum(fourFloats), radix: 16)
        XCTAssertEqual(expected.description,
                       "\(c.path): entry 'ckpt/data/0' has CRC-32"
                           + " 0x\(String(repeating: "0", count: 8 - actual.count) + actual); its header declares"
                           + " 0xdeadbeef")
        XCTAssertThrowsError(try c.verifyRecords()) { XCTAssertEqual($0 as? CheckpointError, expected) }
        XCTAssertThrowsError(try c.tensors[0].tensor.floats()) { XCTAssertEqual($0 as? CheckpointError, expected) }
        XCTAssertThrowsError(try c.tensors[0].tensor.streamBytes { _ in }) {
            XCTAssertEqual($0 as? CheckpointError, expected)
        }
    }
}
