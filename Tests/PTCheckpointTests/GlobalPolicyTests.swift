import PTCheckpoint
import PTPickle
import XCTest

/// Strict loading's allowlist takes its dtype and storage names from DType's table, with
/// torch's aliases and the dtypes ptload has no DType for.
final class GlobalPolicyTests: XCTestCase {
    func testStrictAllowsTorchsDTypeAndStorageNames() {
        let strict = GlobalPolicy(strict: true)
        for name in ["float32", "float", "long", "chalf", "float4_e2m1fn_x2", "bits8", "quint4x2", "uint3", "int7",
                     "FloatStorage", "BFloat16Storage", "QInt32Storage", "QUInt4x2Storage", "UntypedStorage"] {
            XCTAssertNil(strict.refusal(for: PickleGlobal(module: "torch", name: name)), name)
        }
        for name in ["float128", "UInt16Storage", "int8_t", "FloatTensorStorage"] {
            XCTAssertEqual(strict.refusal(for: PickleGlobal(module: "torch", name: name)), .notWeightsOnly, name)
        }
    }
}
