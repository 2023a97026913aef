import Foundation

/// One golden RNN case PyTorch wrote (ptload_tools.fixtures.rnn → Fixtures/rnn/cases.json):
/// a checkpoint, a reference `.npz`, the options a run needs (as values and as CLI arguments),
/// and what it must give.
public struct GoldenCase: Decodable, Sendable, CustomStringConvertible {
    /// The module's torch.nn arguments, as the fixture tool recorded them.
    public struct Config: Decodable, Sendable {
        public let input_size: Int?
        public let hidden_size: Int?
        public let num_layers: Int?
        public let bidirectional: Bool?
        public let batch_first: Bool?
        public let bias: Bool?
        public let proj_size: Int?
        public let nonlinearity: String?
    }

    /// The run's options as values, for the library's requests.
    public struct Options: Decodable, Sendable {
        public let batch_first: Bool
        public let nonlinearity: String?
        /// The module to run, by its prefix.
        public let module: String?
        /// Modules to run in order.
        public let pipeline: [String]?
    }

    public let name: String
    /// File names inside Fixtures/rnn.
    public let model: String
    public let reference: String
    /// The same options as ptload's flags, for the command-line tests: `--batch-first`,
    /// `--nonlinearity relu`, `--module P`, `--pipeline P1,P2`.
    public let args: [String]
    public let options: Options
    /// `RNN`, `LSTM`, `GRU`, `RNNCell`, … or `pipeline`.
    public let kind: String
    public let config: Config
    /// The module's prefix (`""` for a bare state dict).
    public let module: String
    /// The weights' dtype and the dtype ptload computes in.
    public let dtype: String
    public let compute_dtype: String
    public let has_h0: Bool
    public let has_lengths: Bool
    public let unbatched: Bool
    /// 0 when every tensor is within tolerance, 1 for the planted mismatches.
    public let expect_exit: Int
    public let group: String
    public let notes: String

    public var description: String { name }

    public var modelPath: String { GoldenCase.folder.appendingPathComponent(model).path }
    public var referencePath: String { GoldenCase.folder.appendingPathComponent(reference).path }

    public static let folder = fixtureURL("rnn")

    /// Every case of Fixtures/rnn/cases.json, in file order; empty when the file cannot be read
    /// (the staleness test then fails on `load()`'s error instead of no case running).
    public static let all: [GoldenCase] = (try? load()) ?? []

    public static func load() throws -> [GoldenCase] {
        let data = try Data(contentsOf: folder.appendingPathComponent("cases.json"))
        return try JSONDecoder().decode([GoldenCase].self, from: data)
    }

    /// The case named `name`.
    public static func named(_ name: String) -> GoldenCase? { all.first { $0.name == name } }
}
