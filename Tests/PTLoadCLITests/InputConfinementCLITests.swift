import Foundation
import PTTestSupport
import XCTest

/// What ptload reads is what the user named (issue 18): only regular files (a FIFO would block
/// forever), a manifest's references inside its folder after every symlink, and a manifest's
/// memory one case at a time.
final class InputConfinementCLITests: XCTestCase {
    let golden = fixtureURL("golden/deep_long")

    /// A copy of the deep_long golden folder to change.
    func goldenCopy() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ptload-golden-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: golden.path, toPath: path)
        return path
    }

    /// The folder's manifest with its first case reading `npz` instead, written as `name`.
    func manifest(in folder: String, npz: String, name: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/golden.json"))
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        var cases = try XCTUnwrap(json["cases"] as? [[String: Any]])
        cases[0]["npz"] = npz
        json["cases"] = [cases[0]]
        let path = folder + "/" + name
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// The reference the folder's first case reads.
    func firstNpz(in folder: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/golden.json"))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try XCTUnwrap((json["cases"] as? [[String: Any]])?.first?["npz"] as? String)
    }

    func testFIFOsAreRefusedAtOnce() throws {
        let folder = try goldenCopy()
        for name in ["model.fifo.pt", "ref.fifo.npz", "case.fifo.npz"] {
            XCTAssertEqual(mkfifo(folder + "/" + name, 0o600), 0)
        }
        let model = folder + "/model.pt"
        // Each would block for ever in open(2) waiting for a writer; CLI.run times out at 60 s.
        CLI.assertRefused(try CLI.run(folder + "/model.fifo.pt"), naming: folder + "/model.fifo.pt",
                          "a FIFO (named pipe), not a regular file")
        CLI.assertRefused(try CLI.run(model, "--verify", folder + "/ref.fifo.npz"), naming: folder + "/ref.fifo.npz",
                          "a FIFO (named pipe), not a regular file")
        let m = try manifest(in: folder, npz: "case.fifo.npz", name: "fifo.json")
        CLI.assertRefused(try CLI.run(model, "--verify", m), naming: m, "a FIFO (named pipe), not a regular file")
    }

    /// `up -> ..` in the golden folder led a case's npz outside it, and the run reported PASS.
    func testAManifestCannotLeaveItsFolderThroughASymlink() throws {
        let folder = try goldenCopy()
        let outside = (folder as NSString).deletingLastPathComponent + "/outside-\(UUID().uuidString).npz"
        try FileManager.default.copyItem(atPath: folder + "/" + firstNpz(in: folder), toPath: outside)
        try FileManager.default.createSymbolicLink(atPath: folder + "/up", withDestinationPath: "..")
        let m = try manifest(in: folder, npz: "up/" + (outside as NSString).lastPathComponent, name: "up.json")
        CLI.assertRefused(try CLI.run(folder + "/model.pt", "--verify", m), naming: m,
                          "npz 'up/", "leaves the manifest's folder through a symbolic link")
        // A link inside the folder to a file inside it is followed.
        try FileManager.default.createSymbolicLink(atPath: folder + "/same.npz",
                                                   withDestinationPath: firstNpz(in: folder))
        let inside = try manifest(in: folder, npz: "same.npz", name: "same.json")
        XCTAssertEqual(try CLI.run(folder + "/model.pt", "--verify", inside).status, 0)
    }

    /// A link to a file outside: nothing of that file reaches the error line.
    func testNoErrorQuotesAFileOutsideTheFolder() throws {
        let folder = try goldenCopy()
        let secret = (folder as NSString).deletingLastPathComponent + "/secret-\(UUID().uuidString)"
        try "SECRET-BYTES-42".write(toFile: secret, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: folder + "/host.npz", withDestinationPath: secret)
        let m = try manifest(in: folder, npz: "host.npz", name: "host.json")
        let r = try CLI.run(folder + "/model.pt", "--verify", m)
        CLI.assertRefused(r, naming: m, "leaves the manifest's folder through a symbolic link")
        XCTAssertFalse(r.stderr.contains("SECRET"), r.stderr)
    }

    /// Each case's weights, references and outputs are freed before the next: 400 cases cost
    /// little more than 20 (glibc's heap used to keep 80 kB a case: 2,000 cases held 0.2 GB).
    /// What stays is each case's report, a few kB.
    func testAManifestRunsCaseByCaseInBoundedMemory() throws {
        let folder = try goldenCopy()
        let text = try String(contentsOfFile: folder + "/golden.json", encoding: .utf8)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let one = try XCTUnwrap((json["cases"] as? [[String: Any]])?.first)
        func write(_ count: Int) throws -> String {
            var copy = json
            copy["cases"] = (0..<count).map { i in one.merging(["name": "case\(i)"]) { _, new in new } }
            let path = folder + "/m\(count).json"
            try JSONSerialization.data(withJSONObject: copy).write(to: URL(fileURLWithPath: path))
            return path
        }
        let few = try CLI.runMeasured([folder + "/model.pt", "--verify", try write(20), "--threads", "1"])
        let many = try CLI.runMeasured([folder + "/model.pt", "--verify", try write(400), "--threads", "1"])
        XCTAssertEqual(few.result.status, 0, few.result.stderr)
        XCTAssertEqual(many.result.status, 0, many.result.stderr)
        XCTAssertLessThan(many.peakRSSBytes - few.peakRSSBytes, 20 << 20,
                          "400 cases: \(many.peakRSSBytes >> 20) MiB; 20 cases: \(few.peakRSSBytes >> 20) MiB")
    }
}
