import PTKernels
import PTTensor
import Synchronization

/// What one forward pass writes besides its result: each direction's buffers and the outputs of
/// the layers before the last. Kept between calls, so that steady-state calls fault in no pages.
final class Workspace<Scalar: ArrayScalar>: @unchecked Sendable {
    // @unchecked: a workspace belongs to one forward pass at a time (Workspaces hands it out).
    private(set) var directions: [DirectionBuffers<Scalar>] = []
    private var spareOutputs: [[Scalar]] = []

    func reserve(directions count: Int) {
        while directions.count < count { directions.append(DirectionBuffers<Scalar>()) }
    }

    /// An array of `count` floats for a layer's output, from the spares when one is there;
    /// zeroed when asked, otherwise with whatever the last call left.
    func takeLayerOutput(count: Int, zeroed: Bool) -> [Scalar] {
        guard var array = spareOutputs.popLast() else {
            return zeroed ? [Scalar](repeating: 0, count: count)
                          : [Scalar](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        }
        if array.count != count {
            array.removeAll(keepingCapacity: true)
            array.append(contentsOf: repeatElement(0, count: count))
        } else if zeroed {
            array.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        return array
    }

    func giveLayerOutput(_ array: [Scalar]) {
        if spareOutputs.count < 2 { spareOutputs.append(array) }
    }
}

/// Workspaces for concurrent forward passes on one module: each call takes one (or makes one)
/// and gives it back; at most two are kept.
final class Workspaces<Scalar: ArrayScalar>: Sendable {
    private let free = Mutex<[Workspace<Scalar>]>([])

    func take(directions: Int) -> Workspace<Scalar> {
        let workspace = free.withLock { $0.popLast() } ?? Workspace<Scalar>()
        workspace.reserve(directions: directions)
        return workspace
    }

    func give(_ workspace: Workspace<Scalar>) {
        free.withLock { if $0.count < 2 { $0.append(workspace) } }
    }
}
