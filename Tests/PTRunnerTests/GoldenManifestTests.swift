import Foundation
import PTRunner
import PTTestSupport
import XCTest

/// Manifests refused before any case runs, each with the file and what is wrong.
final class GoldenManifestTests: XCTestCase {
    func refusal(_ json: String) -> String {
        let path = temporaryFile(Array(json.utf8), name: "golden.json")
        do {
            _ = try GoldenManifest(path: path)
            return "accepted"
        } catch {
            let text = error.description
            XCTAssertTrue(text.hasPrefix(path + ": "), text)
            return String(text.dropFirst(path.count + 2))
        }
    }

    func testRefusals() {
        let c = #"{"name": "a", "npz": "a.npz", "module": "rnn"}"#
        XCTAssertEqual(refusal("[1, 2"), "not a golden manifest: not JSON: no ',' or ']' after an element at byte 5")
        // Stricter than JSONDecoder, as Python's json module is.
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2, "cases": [\#(c),]}"#),
                       "not a golden manifest: not JSON: a trailing comma at byte 106")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 01, "cases": [\#(c)]}"#),
                       "not a golden manifest: not JSON: a number with a leading zero at byte 47")
        XCTAssertEqual(refusal(#"{"format": "other", "format_version": 1, "cases": [\#(c)]}"#),
                       "format is 'other'; expected 'ptload-golden'")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 3, "cases": [\#(c)]}"#),
                       "format_version is 3; this ptload reads 2")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 1, "cases": [\#(c)]}"#),
                       "format_version is 1, whose truths came from a second float64 run of the whole model; re-export"
                           + " it with ptload-golden 2 (python/), which computes each call's truth from its recorded"
                           + " inputs")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2, "cases": [{"name": "a","#
                                   + #" "npz": "a.npz", "module": "rnn", "torch_distance": {"output": -1}}]}"#),
                       "case 'a': torch_distance 'output' is -1.0; expected a finite distance of at least 0")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2, "cases": []}"#), "holds no cases")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2, "cases": [\#(c), \#(c)]}"#),
                       "case 'a' appears twice")
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2,"#
                                   + #" "cases": [{"name": "a", "module": "rnn"}]}"#),
                       "not a golden manifest: 'cases[0].npz' is missing")
        for (npz, why) in [("/abs.npz", "is absolute; paths are relative to the manifest's folder"),
                           ("a/../../b.npz", "leaves the manifest's folder ('..')"), ("", "is empty"),
                           ("a\\\\b.npz", "holds a control character or a backslash")] {
            let json = #"{"format": "ptload-golden", "format_version": 2, "cases": [{"name": "x", "npz": "\#(npz)","#
                + #" "module": "m"}]}"#
            XCTAssertEqual(refusal(json), "case 'x': npz '\(npz.replacingOccurrences(of: "\\\\", with: "\\"))' \(why)")
        }
        XCTAssertEqual(refusal(#"{"format": "ptload-golden", "format_version": 2, "cases": [{"name": "x","#
                                   + #" "npz": "x.npz", "module": "m", "pipeline": ["e"]}]}"#),
                       "case 'x': pipeline [\"e\"] does not hold its module 'm'")
    }

    func testAcceptedManifestResolvesBesideItself() throws {
        let path = temporaryFile(Array((#"{"format": "ptload-golden", "format_version": 2,"#
                                            + #" "torch_version": "2.15.0", "cases": [{"name": "a","#
                                            + #" "npz": "sub/a.npz", "module": "rnn"}]}"#).utf8),
                                 name: "golden.json")
        let manifest = try GoldenManifest(path: path)
        XCTAssertEqual(manifest.torchVersion, "2.15.0")
        // The npz need not exist to be named; it resolves once it does.
        let folder = (path as NSString).deletingLastPathComponent
        XCTAssertThrowsError(try manifest.npzPath(of: manifest.cases[0]))
        try FileManager.default.createDirectory(atPath: folder + "/sub", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: folder + "/sub/a.npz", contents: Data())
        let resolvedFolder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
        XCTAssertEqual(try manifest.npzPath(of: manifest.cases[0]), resolvedFolder + "/sub/a.npz")
    }
}
