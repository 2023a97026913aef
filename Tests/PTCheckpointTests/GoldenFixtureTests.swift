import Foundation
import PTCheckpoint
import PTTensor
import PTTestSupport
import XCTest

/// Every checkpoint under Fixtures/checkpoints was written by real PyTorch (ptload_tools.fixtures.checkpoints);
/// its `.expected.json` holds what torch.load returned. Each test compares ptload to it, tensor
/// by tensor and byte by byte.
final class GoldenFixtureTests: XCTestCase {
    static let folder = fixtureURL("checkpoints")

    /// Every fixture name with an expected sidecar.
    static func fixtureNames() throws -> [String] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        return files.filter { $0.hasSuffix(".expected.json") }
            .map { String($0.dropLast(".expected.json".count)) }.sorted()
    }

    func testEveryFixtureMatchesPyTorch() throws {
        let names = try Self.fixtureNames()
        XCTAssertGreaterThanOrEqual(names.count, 20, "the fixture set is incomplete")
        for name in names {
            try check(name)
        }
    }

    /// The real-world TorchScript file the issue names: `silero_vad.jit` from the PyPI package
    /// `silero-vad` (2.2 MB, not committed). `python -m ptload_tools.fixtures.checkpoints --silero PATH` writes its
    /// sidecar; point PTLOAD_SILERO_DIR at the folder holding both to run this test.
    func testSileroVAD() throws {
        guard let dir = ProcessInfo.processInfo.environment["PTLOAD_SILERO_DIR"] else {
            throw XCTSkip("set PTLOAD_SILERO_DIR to a folder with silero_vad.jit and silero_vad.expected.json")
        }
        try check("silero_vad", in: URL(fileURLWithPath: dir))
    }

    func check(_ name: String, in folder: URL = GoldenFixtureTests.folder, file: StaticString = #filePath,
               line: UInt = #line) throws {
        let data = try Data(contentsOf: folder.appendingPathComponent(name + ".expected.json"))
        let exp = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let fileName = try XCTUnwrap(exp["file"] as? String)
        let path = folder.appendingPathComponent(fileName).path
        if exp["loads"] as? Bool == false {
            // torch.load itself cannot read it (proto0.pt): ptload must refuse it too.
            XCTAssertThrowsError(try Checkpoint.load(path: path), "\(name): torch refuses this file", file: file,
                                 line: line)
            return
        }
        let c: Checkpoint
        do {
            c = try Checkpoint.load(path: path)
        } catch {
            XCTFail("\(name): \(error)", file: file, line: line)
            return
        }
        XCTAssertEqual(c.format.rawValue, exp["format"] as? String, "\(name): format", file: file, line: line)
        XCTAssertEqual(c.archiveName, exp["archive"] as? String, "\(name): archive", file: file, line: line)
        if let proto = exp["pickle_protocol"] as? Int {
            XCTAssertEqual(c.pickleProtocol, proto, "\(name): protocol", file: file, line: line)
        }
        let tensors = try XCTUnwrap(exp["tensors"] as? [[String: Any]])
        XCTAssertEqual(c.tensors.map(\.key), tensors.compactMap { $0["key"] as? String }, "\(name): keys", file: file,
                       line: line)
        for (got, want) in zip(c.tensors, tensors) {
            let label = "\(name): \(got.key)"
            let t = got.tensor
            XCTAssertEqual(t.dtype.rawValue, want["dtype"] as? String, "\(label) dtype", file: file, line: line)
            XCTAssertEqual(t.shape, want["shape"] as? [Int], "\(label) shape", file: file, line: line)
            XCTAssertEqual(t.strides, want["stride"] as? [Int], "\(label) stride", file: file, line: line)
            XCTAssertEqual(t.storageOffset, want["storage_offset"] as? Int, "\(label) offset", file: file, line: line)
            if let key = want["storage_key"] as? String {
                XCTAssertEqual(t.storage.key, key, "\(label) storage key", file: file, line: line)
            }
            if let numel = want["storage_numel"] as? Int, let sdtype = want["storage_dtype"] as? String,
               let sd = DType(rawValue: sdtype) {
                XCTAssertEqual(t.storage.byteCount, numel * sd.itemSize, "\(label) storage bytes", file: file,
                               line: line)
            }
            if let rg = want["requires_grad"] as? Bool {
                XCTAssertEqual(t.requiresGrad, rg, "\(label) requires_grad", file: file, line: line)
            }
            let hex = try XCTUnwrap(want["bytes_hex"] as? String, label)
            XCTAssertEqual(try t.contiguousBytes().hex, hex, "\(label) bytes", file: file, line: line)
            if t.dtype.isFloatingPoint || (!t.dtype.isComplex && t.dtype != .uint64),
               let values = want["values"] as? [Any] {
                let got = try t.doubles()
                XCTAssertEqual(got.count, values.count, "\(label) count", file: file, line: line)
                for (i, (g, w)) in zip(got, values).enumerated() {
                    guard let wd = Self.number(w) else {
                        XCTFail("\(label)[\(i)] has no number", file: file, line: line); continue
                    }
                    // Foundation's JSON reader can be off by an ulp of Double and drops the sign of
                    // -0.0; bytes_hex above is the exact check, this one checks the widening.
                    if wd.isNaN {
                        XCTAssertTrue(g.isNaN, "\(label)[\(i)]: \(g) is not NaN", file: file, line: line)
                    } else if t.dtype == .float64 || t.dtype == .int64 {
                        XCTAssertEqual(g, wd, accuracy: Swift.max(abs(wd), 1e-300) * 4e-16, "\(label)[\(i)]",
                                       file: file, line: line)
                    } else {
                        XCTAssertEqual(Float(g), Float(wd), "\(label)[\(i)]", file: file, line: line)
                    }
                }
            }
        }
        if let modules = exp["modules"] as? [String: [String: Any]] {
            for (path, module) in modules {
                let m = c.module(at: path)
                XCTAssertNotNil(m, "\(name): module '\(path)'", file: file, line: line)
                XCTAssertEqual(m?.className, module["class"] as? String, "\(name): module '\(path)' class", file: file,
                               line: line)
                for (key, value) in (module["config"] as? [String: Any]) ?? [:] {
                    XCTAssertTrue(Self.matches(m?.value(key), value),
                                  "\(name): \(path).\(key) is \(String(describing: m?.value(key))), PyTorch says"
                                      + " \(value)", file: file, line: line)
                }
            }
        }
        if let opaque = exp["opaque_classes"] as? [String] {
            XCTAssertEqual(c.opaqueClasses, opaque, "\(name): opaque classes", file: file, line: line)
        }
        if let globals = exp["globals"] as? [String] {
            XCTAssertEqual(c.globals.sorted(), globals.sorted(), "\(name): globals", file: file, line: line)
        }
    }

    static func number(_ v: Any) -> Double? {
        if let s = v as? String {
            switch s {
            case "nan": return .nan
            case "inf": return .infinity
            case "-inf": return -.infinity
            default: return Double(s)
            }
        }
        if let b = v as? Bool { return b ? 1 : 0 }
        if let n = v as? NSNumber { return n.doubleValue }
        return nil
    }

    /// Whether a config value equals what the JSON sidecar holds.
    static func matches(_ c: ConfigValue?, _ v: Any) -> Bool {
        guard let c else { return false }
        switch c {
        case .none: return v is NSNull
        case .bool(let b): return (v as? Bool) == b
        case .int(let i): return (v as? NSNumber)?.int64Value == i && (v as? NSNumber)?.doubleValue == Double(i)
        case .double(let d): return (v as? NSNumber)?.doubleValue == d
        case .string(let s): return (v as? String) == s
        }
    }
}

extension Array where Element == UInt8 {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
