import Foundation
import PTNumpy
import PTRunner
import PTTensor
import PTTestSupport
import XCTest

/// The listing and export services on torch-written checkpoints (Fixtures/checkpoints,
/// tools/make_fixtures.py): what the command prints comes from these values.
final class CheckpointServiceTests: XCTestCase {
    struct Expected: Decodable {
        struct Entry: Decodable { let key: String; let bytes_hex: String }
        let tensors: [Entry]
    }

    func expected(_ name: String) throws -> [Expected.Entry] {
        try JSONDecoder()
            .decode(Expected.self, from: Data(contentsOf: fixtureURL("checkpoints/\(name).expected.json"))).tensors
    }

    func testListingCountsEveryTensorAndChecksRecords() throws {
        let path = fixtureURL("checkpoints/full_net.pt").path
        let listing = try CheckpointListing.run(CheckpointListing.Request(modelPath: path))
        let tensors = try expected("full_net")
        XCTAssertEqual(listing.tensors.map(\.key), tensors.map(\.key))
        XCTAssertEqual(listing.summary.tensor_count, tensors.count)
        XCTAssertEqual(listing.summary.total_bytes, tensors.reduce(0) { $0 + $1.bytes_hex.count / 2 })
        XCTAssertTrue(listing.summary.tensors.isEmpty, "rows are streamed from `tensors`, not held in the summary")
        XCTAssertTrue(listing.summary.records_checked)
        XCTAssertNotNil(listing.summary.timings.crc_s)

        let unchecked = try CheckpointListing.run(CheckpointListing.Request(modelPath: path, checkRecords: false))
        XCTAssertFalse(unchecked.summary.records_checked)
        XCTAssertNil(unchecked.summary.timings.crc_s)
    }

    func testExportOfOneModuleReadsBackWithThePrefixStripped() throws {
        let path = fixtureURL("checkpoints/full_net.pt").path
        let out = temporaryFile([], name: "rnn.npz")
        let report = try CheckpointExport.run(CheckpointExport.Request(modelPath: path, outputPath: out, module: "rnn"))
        let rnn = try expected("full_net").filter { $0.key.hasPrefix("rnn.") }
        XCTAssertEqual([report.model, report.output, report.format, report.module], [path, out, "npz", "rnn"])
        XCTAssertNil(report.cast_to)
        XCTAssertEqual([report.tensors, report.bytes, report.materialized, report.cast],
                       [rnn.count, rnn.reduce(0) { $0 + $1.bytes_hex.count / 2 }, 0, 0])
        let back = try Numpy.readNpz(path: out)
        XCTAssertEqual(back.map(\.name), rnn.map { String($0.key.dropFirst("rnn.".count)) })
        for (array, want) in zip(back, rnn) {
            XCTAssertEqual(try array.tensor.contiguousBytes().map { String(format: "%02x", $0) }.joined(),
                           want.bytes_hex, want.key)
        }
    }

    func testExportUnderAMissingPrefixNamesTheModules() throws {
        let path = fixtureURL("checkpoints/full_net.pt").path
        let out = temporaryFile([], name: "none.npz")
        XCTAssertThrowsError(try CheckpointExport.run(CheckpointExport.Request(modelPath: path, outputPath: out,
                                                                               module: "nowhere"))) { error in
            guard case let .nothingUnder(file, prefix, modules)? = error as? ModuleRunError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(file, path)
            XCTAssertEqual(prefix, "nowhere.")
            XCTAssertTrue(modules.contains("rnn"), "\(modules)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: out)), Data(), "the output is left as it was")
    }
}
