import Foundation
import PTCheckpoint
import PTTestSupport
import XCTest

/// Real PyTorch files, damaged at every byte: each either still loads (and then every tensor
/// either reads or throws) or is refused with a `CheckpointError`. A trap fails the whole run.
final class CorruptionTests: XCTestCase {
    func bytes(of fixture: String) throws -> [UInt8] {
        Array(try Data(contentsOf: fixtureURL("checkpoints/" + fixture)))
    }

    /// Loads and reads every tensor; returns whether everything succeeded.
    @discardableResult
    func exercise(_ bytes: [UInt8], path: String) -> Bool {
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
        do {
            let c = try Checkpoint.load(path: path)
            for t in c.tensors { _ = try t.tensor.contiguousBytes() }
            return true
        } catch is CheckpointError {
            return false
        } catch {
            XCTFail("not a CheckpointError: \(error)")
            return false
        }
    }

    func testTruncatedRealFilesAreRefused() throws {
        let scratch = temporaryFile([], name: "cut.pt")
        for fixture in ["proto4.pt", "legacy_layouts.pt", "script_vad.jit"] {
            let original = try bytes(of: fixture)
            XCTAssertTrue(exercise(original, path: scratch), fixture)
            for cut in stride(from: 0, to: original.count, by: fixture.hasSuffix(".jit") ? 7 : 1) {
                XCTAssertFalse(exercise(Array(original[0..<cut]), path: scratch), "\(fixture) cut at \(cut) loaded")
            }
        }
    }

    func testEveryByteFlippedNeverTraps() throws {
        let scratch = temporaryFile([], name: "flip.pt")
        for fixture in ["proto4.pt", "legacy_lstm.pt"] {
            let original = try bytes(of: fixture)
            var refused = 0
            for i in original.indices {
                var damaged = original
                damaged[i] ^= 0xFF
                if !exercise(damaged, path: scratch) { refused += 1 }
            }
            // Zip: every byte is covered by a CRC, a header check or the directory, except
            // padding and the few fields no reader needs; legacy files have no checksums.
            XCTAssertGreaterThan(refused, 0, fixture)
        }
    }
}
