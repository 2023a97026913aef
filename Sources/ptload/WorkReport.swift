import Foundation
import PTCheckpoint

/// What reading the checkpoint cost, written as JSON to the file named by the environment variable
/// `PTLOAD_WORK_REPORT` when the run ends, a refusal included: pickle opcodes run, bytes
/// materialised, key-hashing work, pickle bytes read and containers walked. These counts depend on
/// the file alone, so the hostile-file tests bound ptload's work with them instead of timing it.
enum WorkReport {
    static let path: String? = ProcessInfo.processInfo.environment["PTLOAD_WORK_REPORT"]
        .flatMap { $0.isEmpty ? nil : $0 }
    // nonisolated(unsafe): made once, filled by the one load of this process on the main
    // thread, and read by `write()` on that thread after the load returns.
    nonisolated(unsafe) static let work: LoadWork? = path == nil ? nil : LoadWork()

    static func write() {
        guard let path, let work else { return }
        let text = "{\"pickle_opcodes\": \(work.pickle.opcodes),"
            + " \"pickle_materialized_bytes\": \(work.pickle.materializedBytes), "
            + "\"pickle_key_work\": \(work.pickle.keyWork), \"pickle_bytes\": \(work.pickleBytes),"
            + " \"walk_steps\": \(work.walkSteps)}\n"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    }
}
