import Foundation
#if canImport(Darwin)
import Darwin
#endif
import PTKernelsC

/// A set of compute kernels built for one instruction set (Sources/PTKernelsC: one source,
/// compiled once per set under its own target attribute). Chosen at run time after a CPU check;
/// `plain` runs everywhere. Listed most capable first.
public enum KernelSet: String, CaseIterable, Sendable {
    /// x86-64 AVX-512 F/BW/DQ/VL: 16 float32 lanes, 8-row product kernels.
    case avx512
    /// x86-64 AVX2 with FMA: 8 float32 lanes, 6-row product kernels.
    case avx2
    /// aarch64 Advanced SIMD: 4 float32 lanes, 8-row product kernels.
    case neon
    /// Generic 4-lane vectors, compiled for the architecture's baseline: any CPU.
    case plain

    /// The CPU features the set needs (as Linux's /proc/cpuinfo names them on x86-64).
    public var requiredFlags: [String] {
        switch self {
        case .avx512: return ["avx512f", "avx512bw", "avx512dq", "avx512vl"]
        case .avx2: return ["avx2", "fma"]
        case .neon: return ["asimd"]
        case .plain: return []
        }
    }

    /// The C library's number for the set (`enum ptk_isa`).
    var isa: Int32 {
        switch self {
        case .plain: return Int32(PTK_PLAIN.rawValue)
        case .avx2: return Int32(PTK_AVX2.rawValue)
        case .avx512: return Int32(PTK_AVX512.rawValue)
        case .neon: return Int32(PTK_NEON.rawValue)
        }
    }
}

/// What this CPU can run, read once.
public enum CPUFeatures {
    /// The CPU's feature flags: /proc/cpuinfo's `flags` (x86-64) or `Features` (aarch64) on
    /// Linux; on Apple platforms the `hw.optional` names, spelled as Linux spells them.
    public static let flags: Set<String> = {
        #if arch(arm64) || arch(aarch64)
        // Advanced SIMD is part of the aarch64 baseline.
        var found: Set<String> = ["asimd"]
        #else
        var found: Set<String> = []
        #endif
        #if canImport(Darwin)
        for (name, flag) in [("hw.optional.avx2_0", "avx2"), ("hw.optional.fma", "fma"),
                             ("hw.optional.avx512f", "avx512f"), ("hw.optional.avx512bw", "avx512bw"),
                             ("hw.optional.avx512dq", "avx512dq"), ("hw.optional.avx512vl", "avx512vl")] {
            var value: Int32 = 0
            var size = MemoryLayout<Int32>.size
            if sysctlbyname(name, &value, &size, nil, 0) == 0 && value != 0 { found.insert(flag) }
        }
        #else
        if let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
           let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") || $0.hasPrefix("Features") }),
           let colon = line.firstIndex(of: ":") {
            found.formUnion(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        #endif
        return found
    }()

    /// The features `set` needs that this CPU lacks; a set built for another architecture lacks
    /// the architecture itself.
    public static func missingFlags(_ set: KernelSet) -> [String] {
        guard ptk_f32(set.isa) != nil else {
            #if arch(x86_64)
            return ["aarch64"]
            #else
            return ["x86-64"]
            #endif
        }
        return set.requiredFlags.filter { !flags.contains($0) }
    }

    /// Whether this CPU can run `set`.
    public static func canRun(_ set: KernelSet) -> Bool { missingFlags(set).isEmpty }

    /// Why this CPU cannot run `set` ("avx512: this CPU lacks avx512f, avx512bw"); nil if it can.
    public static func whyNot(_ set: KernelSet) -> String? {
        let missing = missingFlags(set)
        return missing.isEmpty ? nil : "\(set.rawValue): this CPU lacks \(missing.joined(separator: ", "))"
    }

    /// The most capable set this CPU runs (`plain` runs everywhere): what `Compute.automatic` uses.
    public static let best: KernelSet = best(atMost: KernelSet.allCases[0])

    /// The most capable set this CPU runs at or below `cap` in `KernelSet`'s order: `cap` itself
    /// when the CPU runs it, else the next one down that it runs, `plain` at the latest.
    public static func best(atMost cap: KernelSet) -> KernelSet {
        let order = KernelSet.allCases
        return order[order.firstIndex(of: cap)!...].first(where: canRun) ?? .plain
    }
}
