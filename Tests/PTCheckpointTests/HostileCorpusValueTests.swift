import Foundation
import PTCheckpoint
import PTTestSupport
import XCTest

/// The values of every file the hostile corpus expects ptload to accept (Fixtures/hostile/
/// expected.json): each listed tensor's first values, exactly as the generator wrote them.
/// (HostileCorpusTests runs every corpus file through the binary.)
final class HostileCorpusValueTests: XCTestCase {
    struct Case: Decodable {
        struct Expected: Decodable {
            let dtype: String
            let shape: [Int]
            let values: [Double]?
        }
        let file: String
        let exit: Int
        let tensors: [String: Expected]?
    }

    func testAcceptedFilesHoldTheirValues() throws {
        let folder = fixtureURL("hostile")
        let cases = try JSONDecoder().decode([Case].self,
                                             from: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        var checked = 0
        for c in cases where c.exit == 0 {
            guard let tensors = c.tensors, !tensors.isEmpty else { continue }
            let checkpoint = try Checkpoint.load(path: folder.appendingPathComponent(c.file).path)
            XCTAssertEqual(Set(checkpoint.tensors.map(\.key)), Set(tensors.keys), c.file)
            for (key, expected) in tensors {
                let tensor = try XCTUnwrap(checkpoint.tensor(key), "\(c.file): \(key)")
                XCTAssertEqual(tensor.dtype.rawValue, expected.dtype, "\(c.file): \(key)")
                XCTAssertEqual(tensor.shape, expected.shape, "\(c.file): \(key)")
                guard let values = expected.values else { continue }
                XCTAssertEqual(try tensor.doubles(in: 0..<values.count), values, "\(c.file): \(key)")
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 16, "fewer accepted tensors than the corpus holds")
    }
}
