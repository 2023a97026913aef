import Dispatch
import PTKernels
import PTNN
import PTTensor

/// `ModuleRunner`'s run in chunks: the input cut into chunks of `chunk` steps before any timing,
/// then each repeat streams them through one `RecurrentStream` from the initial state, timing
/// the whole run and each call. The outputs are the first repeat's, joined along the time axis.
struct StreamedRun<Scalar: ArrayScalar> {
    let request: ModuleRunner.Request
    let pipeline: Pipeline<Scalar>
    let prefixes: [String]
    let inputs: ReferenceArrays
    let chunk: Int

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
        // The time axis: [N, T, I] with batch_first, [T, N, I] and [T, I] otherwise; a cell is one step.
        let axis = x.rank == 3 && config.batchFirst ? 1 : 0
        let steps = config.isCell || x.rank < 2 ? 1 : x.shape[axis]
        let chunks = config.isCell ? [x] : stride(from: 0, to: steps, by: chunk).map {
            Self.slice(x, axis: axis, $0..<min($0 + chunk, steps))
        }
        /// The initial state in arrays of its own, made before a repeat's timing starts (the
        /// first call would otherwise copy h0 and c0 out of shared storage).
        func initialState() throws(ModuleRunError) -> RecurrentState<Scalar> {
            func own(_ array: ShapedArray<Scalar>) -> ShapedArray<Scalar> {
                ShapedArray(shape: array.shape, values: array.values.map { $0 })
            }
            do throws(NNError) {
                if let h0 { return try module.makeState(h0: own(h0), c0: c0.map(own)) }
                let batched = x.rank == (config.isCell ? 2 : 3)
                return try module.makeState(batch: batched ? x.shape[config.isCell || config.batchFirst ? 0 : 1] : nil)
            } catch {
                throw ModuleRunError(file: inputs.path, error)
            }
        }

        var outputs = chunks.map { _ in ShapedArray<Scalar>(zeros: [0]) }
        var times: [Double] = [], calls: [Double] = []
        var final = try initialState()
        for repeatIndex in 0..<max(request.repeatCount, 1) {
            var state = try initialState()
            let start = DispatchTime.now().uptimeNanoseconds
            do throws(NNError) {
                for i in chunks.indices {
                    let callStart = DispatchTime.now().uptimeNanoseconds
                    try stream.run(chunks[i], state: &state, output: &outputs[i])
                    calls.append(ModuleRunner.seconds(since: callStart))
                }
            } catch {
                throw ModuleRunError(file: inputs.path, error)
            }
            times.append(ModuleRunner.seconds(since: start))
            if repeatIndex == 0 { final = state }
            // Later repeats write the same values into the same arrays.
        }
        let result = Pipeline<Scalar>.Output(output: config.isCell ? nil : Self.join(outputs, axis: axis),
                                             hN: final.h, cN: final.c)
        let sortedCalls = calls.sorted()
        return (result, times, .init(chunk: config.isCell ? 1 : chunk, chunks: chunks.count,
                                     call_s: sortedCalls[sortedCalls.count / 2]))
    }

    /// Steps `range` of the time axis `axis` (0 or 1) of `array`.
    static func slice(_ array: ShapedArray<Scalar>, axis: Int, _ range: Range<Int>) -> ShapedArray<Scalar> {
        let outer = axis == 0 ? 1 : array.shape[0]
        let steps = array.shape[axis]
        let inner = array.shape[(axis + 1)...].reduce(1, *)
        var values: [Scalar] = []
        values.reserveCapacity(outer * range.count * inner)
        for o in 0..<outer {
            values += array.values[((o * steps + range.lowerBound) * inner)..<((o * steps + range.upperBound) * inner)]
        }
        var shape = array.shape
        shape[axis] = range.count
        return ShapedArray(shape: shape, values: values)
    }

    /// `pieces` joined along the time axis `axis` (0 or 1).
    static func join(_ pieces: [ShapedArray<Scalar>], axis: Int) -> ShapedArray<Scalar> {
        var shape = pieces[0].shape
        shape[axis] = pieces.reduce(0) { $0 + $1.shape[axis] }
        let outer = axis == 0 ? 1 : shape[0]
        let inner = shape[(axis + 1)...].reduce(1, *)
        var values: [Scalar] = []
        values.reserveCapacity(shape.reduce(1, *))
        for o in 0..<outer {
            for piece in pieces {
                let steps = piece.shape[axis]
                values += piece.values[(o * steps * inner)..<((o + 1) * steps * inner)]
            }
        }
        return ShapedArray(shape: shape, values: values)
    }
}
