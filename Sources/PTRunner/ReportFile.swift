import PTZip

/// Reports written beside a run (JUnit XML): published whole, as every output is (`FileSink`).
public enum ReportFile {
    /// Writes `text` to `path` through a new file renamed over it once complete.
    /// - Parameter inputs: files the report must not replace (the model, the manifest).
    /// - Returns: nil on success, else why the file could not be written (without the path).
    public static func write(_ text: String, to path: String, inputs: [String]) -> String? {
        do throws(FileSinkError) {
            try FileOutput.write(Array(text.utf8), to: path, inputs: inputs)
            return nil
        } catch {
            return error.reason.description
        }
    }
}
