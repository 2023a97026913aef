import Foundation
import PTTestSupport
import XCTest

/// `ptload MODEL --export DIR/model.safetensors --max-shard-size SIZE` as a black box: the
/// folder equals transformers' `save_pretrained(max_shard_size=…, safe_serialization=True)`
/// byte for byte (ptload_tools.fixtures.sharded_export → Fixtures/sharded/export), the text and
/// `--json` reports name the shards, the index and the tied weights left out, and every refusal
/// is one line and exit 2.
final class ShardedExportCLITests: XCTestCase {
    static func fixture(_ name: String) -> String { fixtureURL("sharded/export/\(name)").path }

    func emptyFolder() -> String { temporaryFolder() }

    func contents(_ folder: String) throws -> [String] { try folderContents(folder) }

    func assertSameFolder(_ folder: String, as fixture: String, line: UInt = #line) throws {
        let names = try contents(Self.fixture(fixture))
        XCTAssertEqual(try contents(folder), names, line: line)
        for name in names {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name)")),
                           try Data(contentsOf: URL(fileURLWithPath: Self.fixture("\(fixture)/\(name)"))),
                           "\(name) differs", line: line)
        }
    }

    func testGPT2FolderAndTextReport() throws {
        let folder = emptyFolder()
        let r = try CLI.run([Self.fixture("gpt2.pt"), "--export", folder + "/model.safetensors",
                             "--max-shard-size", "4KB"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        try assertSameFolder(folder, as: "gpt2")
        XCTAssertEqual(r.stdout, """
            exported: \(folder)/model.safetensors (safetensors): 16 tensors, 18368 bytes
            shards: 6 of at most 4000 bytes (a larger tensor has its own), total_size 18368

            """ + (1...6).map { "  \(folder)/model-0000\($0)-of-00006.safetensors\n" }.joined() + """
            index: \(folder)/model.safetensors.index.json
            left out as an alias of transformer.wte.weight: lm_head.weight

            """)
    }

    func testBERTAndCastFolders() throws {
        let bert = emptyFolder()
        let r = try CLI.run([Self.fixture("bert.pt"), "--export", bert + "/model.safetensors",
                             "--max-shard-size", " 4 kb "])
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertSameFolder(bert, as: "bert")
        let half = emptyFolder()
        let h = try CLI.run([Self.fixture("gpt2.pt"), "--export", half + "/model.safetensors",
                             "--max-shard-size", "0.004MB", "--cast", "float16"])
        XCTAssertEqual(h.status, 0, h.stderr)
        try assertSameFolder(half, as: "gpt2-float16")
    }

    /// The `--json` report: the usual keys and the shard keys, the values what was written.
    func testJSONReport() throws {
        let folder = emptyFolder()
        _ = FileManager.default.createFile(atPath: folder + "/model.safetensors", contents: Data([0]))
        let r = try CLI.run([Self.fixture("bert.pt"), "--export", folder + "/model.safetensors",
                             "--max-shard-size", "4KB", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(json.keys), ["model", "output", "format", "tensors", "bytes", "materialized", "cast",
                                        "max_shard_size", "shards", "index", "total_size", "dropped_aliases",
                                        "removed"])
        let index = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath:
            Self.fixture("bert/model.safetensors.index.json")))) as? [String: Any])
        let metadata = try XCTUnwrap(index["metadata"] as? [String: Int])
        let weightMap = try XCTUnwrap(index["weight_map"] as? [String: String])
        XCTAssertEqual(json["max_shard_size"] as? Int, 4000)
        XCTAssertEqual(json["total_size"] as? Int, metadata["total_size"])
        XCTAssertEqual(json["bytes"] as? Int, metadata["total_size"])
        XCTAssertEqual(json["tensors"] as? Int, weightMap.count)
        XCTAssertEqual(json["shards"] as? [String], (1...5).map { "\(folder)/model-0000\($0)-of-00005.safetensors" })
        XCTAssertEqual(json["index"] as? String, folder + "/model.safetensors.index.json")
        XCTAssertEqual(json["removed"] as? [String], [folder + "/model.safetensors"])
        XCTAssertEqual(json["dropped_aliases"] as? [[String: String]], [
            ["name": "cls.predictions.decoder.weight", "kept": "bert.embeddings.word_embeddings.weight"],
            ["name": "cls.predictions.decoder.bias", "kept": "cls.predictions.bias"],
        ])
        XCTAssertEqual(try contents(folder), try contents(Self.fixture("bert")))
    }

    /// One shard: `model.safetensors` only, no index; the report has no index key.
    func testOneShardWritesNoIndex() throws {
        let folder = emptyFolder()
        let r = try CLI.run([Self.fixture("gpt2.pt"), "--export", folder + "/model.safetensors",
                             "--max-shard-size", "1GB", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try contents(folder), ["model.safetensors"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertNil(json["index"])
        XCTAssertEqual(json["shards"] as? [String], [folder + "/model.safetensors"])
        XCTAssertEqual(json["tensors"] as? Int, 16)
    }

    /// Sizes the hub refuses, a negative one, and the flag without a `.safetensors` export.
    func testUsageRefusals() throws {
        let model = Self.fixture("gpt2.pt")
        let folder = emptyFolder()
        let out = folder + "/model.safetensors"
        let unit = "is not TB, GB, MB or KB (powers of 10, as Hugging Face reads sizes)"
        for (size, message) in [("2GiB", "--max-shard-size '2GiB': the unit 'iB' \(unit)"),
                                ("100", "--max-shard-size '100': the unit '00' \(unit)"),
                                ("", "--max-shard-size '': no size given"),
                                ("-5KB", "--max-shard-size '-5KB': a size cannot be negative"),
                                ("1 0KB", "--max-shard-size '1 0KB': '1 0' is not a number")] {
            // `--max-shard-size=-5KB`: given apart, `-5KB` would read as an option.
            let option = size.isEmpty ? ["--max-shard-size", ""] : ["--max-shard-size=" + size]
            let r = try CLI.run([model, "--export", out] + option)
            CLI.assertRefused(r, naming: message)
        }
        CLI.assertRefused(try CLI.run([model, "--export", folder + "/model.npz", "--max-shard-size", "5GB"]),
                          naming: "--max-shard-size writes .safetensors shards; '\(folder)/model.npz' is not"
                              + " .safetensors")
        CLI.assertRefused(try CLI.run([model, "--max-shard-size", "5GB"]),
                          naming: "--max-shard-size needs --export DIR/model.safetensors")
        XCTAssertEqual(try contents(folder), [])
    }

    /// A failure leaves the folder as it was: a shard's name taken by a folder, the output's
    /// folder a file.
    func testFailuresLeaveTheFolderAsItWas() throws {
        let folder = emptyFolder()
        let blocker = folder + "/model-00002-of-00006.safetensors"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        let r = try CLI.run([Self.fixture("gpt2.pt"), "--export", folder + "/model.safetensors",
                             "--max-shard-size", "4KB"])
        CLI.assertRefused(r, naming: "\(blocker): cannot write: it is a folder")
        XCTAssertEqual(try contents(folder), ["model-00002-of-00006.safetensors"])
        let file = temporaryFile([9], name: "plain-file")
        CLI.assertRefused(try CLI.run([Self.fixture("gpt2.pt"), "--export", file + "/model.safetensors",
                                       "--max-shard-size", "4KB"]),
                          naming: "\(file): cannot write: Not a directory")
    }

    /// A write failing in the second shard (`ulimit -f`, the first shard already complete): the
    /// error names that shard, and the folder is as it was, the earlier file there untouched.
    func testAFullDiskInTheSecondShardLeavesTheFolderAsItWas() throws {
        // a: 200 bytes, b: 3,900: two shards of at most 4KB, the first small, the second not.
        let header = #"{"a":{"dtype":"F32","shape":[50],"data_offsets":[0,200]},"#
            + #""b":{"dtype":"F32","shape":[975],"data_offsets":[200,4100]}}"#
        let padded = Array(header.utf8) + Array(repeating: UInt8(ascii: " "), count: (8 - header.utf8.count % 8) % 8)
        let length = withUnsafeBytes(of: UInt64(padded.count).littleEndian) { Array($0) }
        let model = temporaryFile(length + padded + (0..<4100).map { UInt8($0 % 251) }, name: "two.safetensors")
        let folder = emptyFolder()
        _ = FileManager.default.createFile(atPath: folder + "/model.safetensors", contents: Data("old".utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // 512-byte blocks in dash (1,024 in bash): the first shard (about 300 bytes) fits, the second does not.
        process.arguments = ["-c", #"ulimit -f 1; trap '' XFSZ; exec "$0" "$1" --export "$2" --max-shard-size 4KB"#,
                             CLI.binary.path, model, folder + "/model.safetensors"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 2, stderr)
        XCTAssertEqual(stderr, "ptload: \(folder)/model-00002-of-00002.safetensors: cannot write: File too large\n")
        XCTAssertEqual(try contents(folder), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: folder + "/model.safetensors")), Data("old".utf8))
        // Without the limit: two shards, and the earlier file removed.
        let r = try CLI.run([model, "--export", folder + "/model.safetensors", "--max-shard-size", "4KB"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try contents(folder), ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                              "model.safetensors.index.json"])
    }

    /// An earlier output's shards are removed and reported; a file to remove that is the input
    /// itself is refused before anything is written.
    func testStaleShardsAndTheInput() throws {
        let folder = emptyFolder()
        let out = folder + "/model.safetensors"
        XCTAssertEqual(try CLI.run([Self.fixture("gpt2.pt"), "--export", out, "--max-shard-size", "4KB"]).status, 0)
        let r = try CLI.run([Self.fixture("bert.pt"), "--export", out, "--max-shard-size", "4KB"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasSuffix((1...6).map {
            "removed (earlier output): \(folder)/model-0000\($0)-of-00006.safetensors\n"
        }.joined()), r.stdout)
        try assertSameFolder(folder, as: "bert")

        let other = emptyFolder()
        let input = other + "/model.safetensors"
        try FileManager.default.copyItem(atPath: Self.fixture("gpt2/model-00003-of-00006.safetensors"), toPath: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        CLI.assertRefused(try CLI.run([input, "--export", input, "--max-shard-size", "1KB"]),
                          naming: "\(input): writing the shards would remove '\(input)', which is the input")
        XCTAssertEqual(try contents(other), ["model.safetensors"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: input)), before)
        // A link to the input, in another folder, counts as the input: the line names the output.
        let third = emptyFolder()
        try FileManager.default.createSymbolicLink(atPath: third + "/model.safetensors", withDestinationPath: input)
        CLI.assertRefused(try CLI.run([input, "--export", third + "/model.safetensors", "--max-shard-size", "1KB"]),
                          naming: "\(third)/model.safetensors: writing the shards would remove"
                              + " '\(third)/model.safetensors', which is the input '\(input)'")
        XCTAssertEqual(try contents(third), ["model.safetensors"])
    }
}
