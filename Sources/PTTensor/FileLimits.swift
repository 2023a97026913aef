/// Limits every reader and writer of ptload shares, so that what one writes the others read.
public enum FileLimits {
    /// Tensors in one file: safetensors headers with more are refused, the walk of a pickled
    /// state dict stops past this many tensors (and a few containers), and an export of more is
    /// refused before anything is written. Real checkpoints hold thousands; each tensor costs a
    /// listing a few hundred bytes of memory (README, security), so this bounds it too.
    public static let maxTensors = 1_000_000
    /// Containers (dicts, lists, modules) the walk of a pickled checkpoint meets beside its
    /// tensors: a state dict nests its tensors in one dict per module at most.
    public static let maxContainers = 10_000
}
