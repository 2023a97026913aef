import Dispatch
import PTKernels
import PTNN
import PTTensor

/// `ModuleRunner`'s run in chunks: the input cut into chunks of `chunk` steps before any timing,
/// then each repeat streams them through one `RecurrentStream` from the initial state, timing
/// the whole run. The first repeat also times each call and keeps each call's output, joined
/// along the time axis; later repeats rewrite one output array, as a streaming caller does. The
/// final state is the last repeat's.
///
/// A cell takes one step per call whatever `chunk` is: one step `[N, I]` (`[I]`) is one call, and
/// a sequence `[T, N, I]` (`[T, I]`) is T calls, the output `[T, N, H]` (`[T, H]`) every step's h'.
struct StreamedRun<Scalar: ArrayScalar> {
    let request: ModuleRunner.Request
    let pipeline: Pipeline<Scalar>
    let prefixes: [String]
    let inputs: ReferenceArrays
    let chunk: Int
    /// The reference holds `output`: a cell's rank-2 input is then T unbatched steps `[T, I]`
    /// (a cell's one step has no `output`, only h' and c'), else one step of N sequences `[N, I]`.
    let expectsOutput: Bool

    /// - Throws: `.cannotStream` for a pipeline, a module without state or inputs with lengths;
    ///   `.module` for a bidirectional module or inputs the module refuses.
    func run(input: Tensor, h0: ShapedArray<Scalar>?, c0: ShapedArray<Scalar>?, hasLengths: Bool)
        throws(ModuleRunError) -> (output: Pipeline<Scalar>.Output, times: [Double], report: ModuleRunReport.Stream) {
        guard prefixes.count == 1 else { throw .cannotStream(.pipeline(modules: prefixes)) }
        guard case .recurrent(let module) = pipeline.stages[0] else {
            throw .cannotStream(.notRecurrent(prefix: prefixes[0], module: pipeline.stages[0].description))
        }
        let stream: RecurrentStream<Scalar>
        do throws(NNError) {
            stream = try module.makeStream(compute: request.compute)
        } catch {
            throw ModuleRunError(file: request.modelPath, error)
        }
        if hasLengths { throw .cannotStream(.lengths(file: inputs.path)) }
        let config = module.config
        let x = try inputs.values(input, Scalar.self, "input")
        // A cell over a sequence: [T, N, I], or [T, I] when the reference expects every step's h'.
        let cellSequence = config.isCell && (x.rank == 3 || x.rank == 2 && expectsOutput)
        // The time axis: [N, T, I] with batch_first, [T, N, I] and [T, I] otherwise; a cell's step has none.
        let axis = x.rank == 3 && config.batchFirst && !config.isCell ? 1 : 0
        let steps = config.isCell && !cellSequence || x.rank < 2 ? 1 : x.shape[axis]
        // No steps would be no call at all (and nothing to join).
        if steps == 0 { throw ModuleRunError(file: inputs.path, NNError.badInput(.emptyInput(shape: x.shape))) }
        let chunks: [ShapedArray<Scalar>]
        if cellSequence {
            chunks = (0..<steps).map { Self.step(x, $0) }
        } else if config.isCell {
            chunks = [x]
        } else {
            chunks = stride(from: 0, to: steps, by: chunk).map {
                x.slicing(axis: axis, $0..<min($0 + chunk, steps))
            }
        }
        /// The initial state in arrays of its own, made before a repeat's timing starts (the
        /// first call would otherwise copy h0 and c0 out of shared storage).
        func initialState() throws(ModuleRunError) -> RecurrentState<Scalar> {
            func own(_ array: ShapedArray<Scalar>) -> ShapedArray<Scalar> {
                ShapedArray(shape: array.shape, values: array.values.map { $0 })
            }
            do throws(NNError) {
                if let h0 { return try module.makeState(h0: own(h0), c0: c0.map(own)) }
                let batched = x.rank == (config.isCell && !cellSequence ? 2 : 3)
                let batchAxis = config.isCell ? (cellSequence ? 1 : 0) : (config.batchFirst ? 0 : 1)
                return try module.makeState(batch: batched ? x.shape[batchAxis] : nil)
            } catch {
                throw ModuleRunError(file: inputs.path, error)
            }
        }

        // The first repeat keeps every call's output, to join and compare, and times each call;
        // the later ones rewrite one output every call, as a streaming caller does (a new array
        // each call would be a cold one each call), with no clock read between calls.
        var outputs = chunks.map { _ in ShapedArray<Scalar>(zeros: [0]) }
        var frame = ShapedArray<Scalar>(zeros: [0])
        var times: [Double] = [], calls: [Double] = []
        // Room for every call's time before the first: no array grows (and copies) between calls.
        calls.reserveCapacity(chunks.count)
        var state = try initialState()
        for repeatIndex in 0..<max(request.repeatCount, 1) {
            if repeatIndex > 0 { state = try initialState() }
            let start = DispatchTime.now().uptimeNanoseconds
            do throws(NNError) {
                if repeatIndex == 0 {
                    for i in chunks.indices {
                        let callStart = DispatchTime.now().uptimeNanoseconds
                        try stream.run(chunks[i], state: &state, output: &outputs[i])
                        calls.append(ModuleRunner.seconds(since: callStart))
                    }
                } else {
                    for chunk in chunks { try stream.run(chunk, state: &state, output: &frame) }
                }
            } catch {
                throw ModuleRunError(file: inputs.path, error)
            }
            times.append(ModuleRunner.seconds(since: start))
        }
        // The last repeat's final state is compared, the first's outputs: a repeat that rewrote
        // one output array is checked too.
        let output = cellSequence ? Self.stack(outputs) : config.isCell ? nil : ShapedArray.joining(outputs, axis: axis)
        let result = Pipeline<Scalar>.Output(output: output, hN: state.h, cN: state.c)
        let sortedCalls = calls.sorted()
        return (result, times, .init(chunk: config.isCell ? 1 : chunk, chunks: chunks.count,
                                     call_s: sortedCalls[sortedCalls.count / 2]))
    }

    /// Step `t` of a cell's sequence `[T, N, I]` (`[T, I]`): `[N, I]` (`[I]`).
    static func step(_ array: ShapedArray<Scalar>, _ t: Int) -> ShapedArray<Scalar> {
        let shape = Array(array.shape.dropFirst())
        let size = shape.reduce(1, *)
        return ShapedArray(shape: shape, values: Array(array.values[(t * size)..<((t + 1) * size)]))
    }

    /// A cell's outputs, one per step, each `[N, H]` (`[H]`), stacked: `[T, N, H]` (`[T, H]`).
    static func stack(_ steps: [ShapedArray<Scalar>]) -> ShapedArray<Scalar> {
        var values: [Scalar] = []
        values.reserveCapacity(steps.count * steps[0].values.count)
        for step in steps { values += step.values }
        return ShapedArray(shape: [steps.count] + steps[0].shape, values: values)
    }

}
