import Foundation

/// A Hugging Face folder of `Fixtures/sharded/hf` (ptload_tools.fixtures.sharded_hf) as torch
/// saw it, from its `expected.json`: the index, the shards, and every tensor in the order ptload
/// lists them, with its shard (a position in `shards`), dtype, shape and the CRC-32 of its bytes.
public struct HuggingFaceFolderFixture: Decodable, Sendable {
    public struct Entry: Decodable, Sendable {
        public let key: String
        public let shard: Int
        public let dtype: String
        public let shape: [Int]
        public let crc32: UInt32
    }
    public let index: String
    public let shards: [String]
    public let metadata: [String: Int]
    public let tensors: [Entry]

    /// The folders the generator writes.
    public static let folders = ["gpt2_bin", "gpt2_safetensors", "bert_bin", "bert_safetensors", "encodec_bin",
                                 "encodec_safetensors"]

    /// The fixture of `folder` (one of `folders`).
    public static func load(_ folder: String) throws -> HuggingFaceFolderFixture {
        try JSONDecoder().decode(HuggingFaceFolderFixture.self,
                                 from: Data(contentsOf: fixtureURL("sharded/hf/\(folder)/expected.json")))
    }
}
