import Foundation
import PTRunner
import PTTestSupport
import XCTest

/// `CheckpointExport` with a maximum shard size (Fixtures/sharded/export,
/// ptload_tools.fixtures.sharded_export): the report, and the refusals worded on the output.
final class ShardedExportServiceTests: XCTestCase {
    func emptyFolder() -> String {
        let file = temporaryFile([], name: "placeholder")
        try? FileManager.default.removeItem(atPath: file)
        return (file as NSString).deletingLastPathComponent
    }

    func testReportNamesShardsIndexAndAliases() throws {
        let model = fixtureURL("sharded/export/gpt2.pt").path
        let out = emptyFolder() + "/model.safetensors"
        let report = try CheckpointExport.run(CheckpointExport.Request(modelPath: model, outputPath: out,
                                                                       maxShardSize: "4KB"))
        XCTAssertEqual(report.max_shard_size, 4000)
        XCTAssertEqual(report.shards?.count, 6)
        XCTAssertEqual(report.index, (out as NSString).deletingLastPathComponent + "/model.safetensors.index.json")
        XCTAssertEqual(report.total_size, 18368)
        XCTAssertEqual(report.dropped_aliases?.map(\.name), ["lm_head.weight"])
        XCTAssertEqual(report.dropped_aliases?.map(\.kept), ["transformer.wte.weight"])
        XCTAssertEqual(report.tensors, 16)
        XCTAssertEqual(report.removed, [])
        // Without a maximum: one file, every name, none of the shard fields.
        let plain = try CheckpointExport.run(CheckpointExport.Request(modelPath: model, outputPath: out))
        XCTAssertEqual(plain.tensors, 17)
        XCTAssertNil(plain.shards)
        XCTAssertNil(plain.dropped_aliases)
    }

    func testRefusalsNameTheOutput() throws {
        let model = fixtureURL("sharded/export/gpt2.pt").path
        let folder = emptyFolder()
        for (output, size, message) in [
            (folder + "/model.safetensors", "2GiB", "bad maximum shard size '2GiB': the unit 'iB' is not TB, GB, MB"),
            (folder + "/model.safetensors", "-1KB", "bad maximum shard size '-1KB': a size cannot be negative"),
            (folder + "/model.npz", "1KB", "shards are written as .safetensors files"),
        ] {
            XCTAssertThrowsError(try CheckpointExport.run(CheckpointExport.Request(
                modelPath: model, outputPath: output, maxShardSize: size))) {
                XCTAssertTrue("\($0)".hasPrefix("\(output): \(message)"), "\($0)")
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [])
    }
}
