import Foundation
import PTCheckpoint
import PTTestSupport
import XCTest

/// Safetensors files whose header lies or breaks the format's rules: each is refused before any
/// tensor is made, with one line naming the file and what is wrong.
final class HostileSafetensorsTests: XCTestCase {
    /// A file: the header length (the true one unless `claimed`), the header, then `data`.
    func file(_ header: String, data: [UInt8] = [], claimed: UInt64? = nil, raw: [UInt8]? = nil) -> [UInt8] {
        let text = raw ?? Array(header.utf8)
        let n = claimed ?? UInt64(text.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: n >> (8 * $0)) } + text + data
    }

    func refusal(_ bytes: [UInt8]) -> String {
        let path = temporaryFile(bytes, name: "t.safetensors")
        do {
            _ = try Checkpoint.load(path: path)
            return "loaded"
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(path + ": "), text)
            XCTAssertFalse(text.contains("\n"))
            return String(text.dropFirst(path.count + 2))
        }
    }

    let four = [UInt8](repeating: 1, count: 8)   // two float32 values

    func testAWellFormedFileLoads() throws {
        let path = temporaryFile(
            file(#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: four),
                                 name: "ok.safetensors")
        let c = try Checkpoint.load(path: path)
        XCTAssertEqual(c.format, .safetensors)
        XCTAssertEqual(c.tensors.map(\.key), ["w"])
        XCTAssertEqual(try c.tensors[0].tensor.contiguousBytes(), four)
        XCTAssertEqual(c.records.map(\.value), ["pt"])
    }

    func testHeaderLengths() {
        XCTAssertEqual(refusal([1, 2, 3]), "3 bytes; a safetensors file starts with an 8-byte header length")
        XCTAssertEqual(refusal(file("{}", claimed: 1_000)),
                       "header length 1000 runs past the end of the file (2 bytes after the length)")
        XCTAssertEqual(refusal(file("{}", claimed: 200_000_000)),
                       "header length 200000000 is over the format's limit of 100000000 bytes")
        XCTAssertEqual(refusal(file("{}", claimed: UInt64.max)),
                       "header length 18446744073709551615 is over the format's limit of 100000000 bytes")
    }

    /// serde_json refuses integers written with leading zeros, and so does safetensors' reader.
    func testOffsetsWithLeadingZerosAreRefused() {
        let zeros = String(repeating: "0", count: 500)
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[\#(zeros),8]}}"#, data: four)),
                       "the header is not a safetensors header: an integer at 48 has a leading zero")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}"#, data: four)),
                       "the header is not a safetensors header: an integer at 29 has a leading zero")
        XCTAssertEqual(try Checkpoint.load(
            path: temporaryFile(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: four),
                                                               name: "zero.safetensors")).tensors.count, 1)
    }

    func testHeaderText() {
        XCTAssertEqual(refusal(file("", raw: [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x7B, 0x7D, 0x7D])),
                       "the header is not UTF-8")
        XCTAssertEqual(refusal(file("{\"w\": 1}")),
                       "the header is not a safetensors header: unexpected character at byte 6")
        XCTAssertEqual(refusal(file(#"{"a":{"b":{"c":"d"}}}"#)),
                       "the header is not a safetensors header: objects nest deeper than a safetensors header does")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                                    + #""w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: four)),
                       "the header is not a safetensors header: key 'w' appears twice")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: four)),
                       "the header is not a safetensors header: expected a non-negative integer at 29")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]}}"#,
                                    data: four)),
                       "the header is not a safetensors header: an integer at 47 overflows 64 bits")
    }

    func testTensorEntries() {
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}}"#, data: four)),
                       "tensor 'w' has dtype 'F31', which ptload does not know")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: four)),
                       "tensor 'w': shape [3] of F32 needs 12 bytes; data_offsets [0, 8] hold 8")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: four)),
                       "tensor 'w' has data_offsets [8, 0]; expected [begin, end] with begin <= end")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: four)),
                       "tensor 'w': data_offsets [8, 16] run past the data's 8 bytes")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#,
                                    data: four)),
                       "tensor 'w': shape [4611686018427387904, 4] overflows 64 bits")
        XCTAssertEqual(refusal(file(#"{"w":{"dtype":"F32","shape":[2]}}"#, data: four)),
                       "tensor 'w' needs dtype, shape and data_offsets")
    }

    func testDataIsTiledExactly() {
        XCTAssertEqual(refusal(file(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
                                    + #""b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: four)),
                       "tensor 'b' (data_offsets [4, 8]) overlaps the tensor before it")
        XCTAssertEqual(refusal(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: four)),
                       "bytes 0..<4 of the data belong to no tensor")
        XCTAssertEqual(refusal(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: four)),
                       "4 bytes after the last tensor belong to no tensor")
    }
}
