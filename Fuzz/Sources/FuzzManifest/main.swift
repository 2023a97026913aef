import Foundation
import FuzzSupport
import PTRunner

/// An empty folder of our own, made once: the manifest claims to live in it, so `npzPath(of:)`
/// (which resolves each case's reference with `realpath` beside the manifest) finds nothing
/// there to follow, and no input can make it look at any other file.
let scratch: String = {
    var template = Array("/tmp/ptload-fuzz-manifest.XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else {
        fatalError("FuzzManifest: cannot create a scratch folder in /tmp: \(String(cString: strerror(errno)))")
    }
    return String(cString: made)
}()
let manifestPath = scratch + "/golden.json"
// libFuzzer ends the process itself (exit), so the folder is removed from an exit handler; a
// crash leaves it behind, empty.
atexit { rmdir(scratch) }

/// Parses the input as a golden manifest (`golden.json`): the strict RFC 8259 check, then the
/// decoder and the checks on each case; then locates every case's reference, and renders the
/// error, as `ptload MODEL --verify golden.json` prints it. A thrown error is a correct outcome.
func fuzzManifest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let manifest: GoldenManifest
    do {
        manifest = try GoldenManifest(bytes: bytes, path: manifestPath)
    } catch {
        _ = "\(error)"
        return 0
    }
    for c in manifest.cases {
        do {
            _ = try manifest.npzPath(of: c)
        } catch {
            _ = "\(error)"
        }
    }
    return 0
}

exit(runFuzzer { data, size in fuzzManifest(data, size) })
