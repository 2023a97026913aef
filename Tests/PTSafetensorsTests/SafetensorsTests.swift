import PTSafetensors
import PTTensor
import XCTest

/// The header writer's exact layout, and the reader taking back what the writer wrote. Refusals
/// of hostile headers are tested through `Checkpoint.load` (PTCheckpointTests,
/// HostileSafetensorsTests) and the CLI's hostile corpus.
final class SafetensorsTests: XCTestCase {
    func testAnEmptyHeaderIsPaddedToEightBytes() {
        XCTAssertEqual(Safetensors.header(metadata: [], tensors: []), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    /// As `safetensors.torch.save_file` lays them out: by dtype, the format's enum descending,
    /// then by name's bytes.
    func testTheWriterOrdersAndLaysOutAsTheFormatsWriter() {
        let items: [(name: String, dtype: DType, shape: [Int])] = [
            ("b", .float32, [2]), ("a", .float32, [1, 3]), ("z", .uint8, [3]), ("c", .int64, []),
        ]
        let ordered = Safetensors.storageOrder(items, name: \.name, dtype: \.dtype)
        XCTAssertEqual(ordered.map(\.name), ["c", "a", "b", "z"])
        let header = Safetensors.header(metadata: [("format", "pt")], tensors: ordered)
        let json = #"{"__metadata__":{"format":"pt"},"c":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"#
            + #""a":{"dtype":"F32","shape":[1,3],"data_offsets":[8,20]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[20,28]},"#
            + #""z":{"dtype":"U8","shape":[3],"data_offsets":[28,31]}}"#
        XCTAssertEqual(String(decoding: header.dropFirst(8), as: UTF8.self),
                       json + String(repeating: " ", count: (8 - json.utf8.count % 8) % 8))
        XCTAssertEqual(Array(header.prefix(8)), withUnsafeBytes(of: UInt64(header.count - 8).littleEndian, Array.init))
    }

    func testTheReaderTakesBackWhatTheWriterWrote() throws {
        let tensors: [(name: String, dtype: DType, shape: [Int])] = [("w\n\"é", .bfloat16, [2, 2]), ("b", .bool, [3])]
        let file = Safetensors.header(metadata: [("k", "v\u{1}")], tensors: tensors) + [UInt8](repeating: 0, count: 11)
        let header = try file.withUnsafeBytes { try SafetensorsHeader(parsing: $0) }
        XCTAssertEqual(header.metadata.map(\.key), ["k"])
        XCTAssertEqual(header.metadata.map(\.value), ["v\u{1}"])
        XCTAssertEqual(header.dataStart, file.count - 11)
        XCTAssertEqual(header.tensors.map(\.name), ["w\n\"é", "b"])
        XCTAssertEqual(header.tensors.map(\.dtype), [.bfloat16, .bool])
        XCTAssertEqual(header.tensors.map(\.shape), [[2, 2], [3]])
        XCTAssertEqual(header.tensors.map(\.dataOffsets), [0..<8, 8..<11])
        XCTAssertTrue(file.withUnsafeBytes { Safetensors.recognises($0) })
    }

    func testEveryDTypeTheWriterOrdersHasAName() {
        for dtype in Safetensors.dtypeOrder {
            XCTAssertEqual(dtype.safetensorsName.flatMap(DType.init(safetensorsName:)), dtype)
        }
        XCTAssertEqual(DType.allCases.filter(Safetensors.holds).count, Safetensors.dtypeOrder.count)
    }

    func testRefusalsNameWhatIsWrong() {
        func refusal(_ text: String) -> SafetensorsError? {
            let bytes = withUnsafeBytes(of: UInt64(text.utf8.count).littleEndian, Array.init) + Array(text.utf8)
            do {
                _ = try bytes.withUnsafeBytes { try SafetensorsHeader(parsing: $0) }
                return nil
            } catch {
                return error as? SafetensorsError
            }
        }
        XCTAssertEqual(refusal(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#),
                       .pastData(tensor: "w", offsets: [0, 4], dataCount: 0))
        XCTAssertEqual(refusal(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#)?.description,
                       "tensor 'w': data_offsets [0, 4] run past the data's 0 bytes")
        XCTAssertEqual(refusal(#"{"a":1}"#), .syntax(.unexpectedCharacter(at: 5)))
    }
}
