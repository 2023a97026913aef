import PTKernels

extension Compute {
    /// The value the command runs with: `--threads` (the machine's cores when nil), and the
    /// environment: `PTLOAD_ISA=avx512|avx2|neon|plain` caps the kernel set (`PTLOAD_NO_AVX512=1`,
    /// the older spelling, caps at avx2; an empty `PTLOAD_ISA` is unset), and
    /// `PTLOAD_KERNELS=reference` chooses the reference engine. The libraries never read these.
    /// - Throws: `RefusedVariable` for a variable that names nothing, with its refusal line.
    static func command(environment: [String: String], threads: Int?) throws(RefusedVariable) -> Compute {
        var compute = Compute(threads: threads.map(ThreadCount.init) ?? .machine)
        if let name = environment["PTLOAD_ISA"], !name.isEmpty {
            guard let set = KernelSet(rawValue: name) else {
                let names = KernelSet.allCases.map(\.rawValue).joined(separator: ", ")
                throw RefusedVariable("PTLOAD_ISA is '\(name)'; expected one of \(names) (the most capable kernel set"
                                          + " to use)")
            }
            compute.kernelSet = set
        } else if environment["PTLOAD_NO_AVX512"] == "1" {
            compute.kernelSet = .avx2
        }
        if let value = environment["PTLOAD_KERNELS"], !value.isEmpty {
            guard value == "reference" else {
                throw RefusedVariable("PTLOAD_KERNELS is '\(value)'; expected reference (the plain-loop implementation)"
                                          + " or nothing")
            }
            compute.engine = .reference
        }
        return compute
    }
}

/// An environment variable whose value ptload refuses, as its one-line message.
struct RefusedVariable: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
