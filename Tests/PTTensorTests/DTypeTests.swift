import PTTensor
import XCTest

/// The one table of what each file format calls a dtype.
final class DTypeTests: XCTestCase {
    func testFormatNames() {
        XCTAssertEqual(DType.float32.storageClass, "FloatStorage")
        XCTAssertEqual(DType.float32.safetensorsName, "F32")
        XCTAssertEqual(DType.float32.numpyCode, "f4")
        XCTAssertEqual(DType.bfloat16.storageClass, "BFloat16Storage")
        XCTAssertEqual(DType.bfloat16.safetensorsName, "BF16")
        XCTAssertNil(DType.bfloat16.numpyCode, "numpy has no bfloat16")
        XCTAssertNil(DType.uint16.storageClass, "torch has no legacy storage class for uint16")
        XCTAssertEqual(DType.complex128.numpyCode, "c16")
        XCTAssertNil(DType.complex128.safetensorsName)
        XCTAssertEqual(DType.float8_e4m3fn.safetensorsName, "F8_E4M3")
        XCTAssertEqual(DType(storageClass: "UntypedStorage"), .uint8, "bytes")
        XCTAssertNil(DType(storageClass: "QUInt4x2Storage"))
        XCTAssertNil(DType(safetensorsName: "f32"))
        XCTAssertNil(DType(numpyCode: "<f4"), "a code carries no byte order")
    }

    func testEveryNameReadsBackAsItsDType() {
        for dtype in DType.allCases {
            if let name = dtype.storageClass { XCTAssertEqual(DType(storageClass: name), dtype) }
            if let name = dtype.safetensorsName { XCTAssertEqual(DType(safetensorsName: name), dtype) }
            if let code = dtype.numpyCode { XCTAssertEqual(DType(numpyCode: code), dtype) }
        }
        XCTAssertEqual(DType.allCases.compactMap(\.storageClass).count, 15)
        XCTAssertEqual(DType.allCases.compactMap(\.safetensorsName).count, 19)
        XCTAssertEqual(DType.allCases.compactMap(\.numpyCode).count, 14)
        XCTAssertEqual(DType(torchAttribute: "long"), .int64)
        XCTAssertEqual(DType(torchAttribute: "bfloat16"), .bfloat16)
        XCTAssertNil(DType(torchAttribute: "bits8"))
    }
}
