// swift-tools-version:5.10
// ptload: read PyTorch checkpoints without Python, run their recurrent layers, verify against PyTorch.
//
// Dependencies point one way:
//   CLibzip ← PTZip ← PTCheckpoint ← PTNN ← PTVerify ← ptload
//   PTPickle, PTTensor ← PTCheckpoint;  CIntrinsics ← PTKernelsAVX512;  CIntrinsics, COpenBLAS, PTKernelsAVX512 ← PTKernels ← PTNN;
//   PTZip, PTTensor ← PTNumpy ← PTVerify
// Only PTZip imports libzip/zlib, only PTKernels imports OpenBLAS, and only the two kernel targets
// import CIntrinsics (inline prefetch and pause instructions); nothing above them touches C.
import PackageDescription

let package = Package(
    name: "ptload",
    products: [
        .library(name: "PTPickle", targets: ["PTPickle"]),
        .library(name: "PTCheckpoint", targets: ["PTCheckpoint"]),
        .library(name: "PTNN", targets: ["PTNN"]),
        .library(name: "PTNumpy", targets: ["PTNumpy"]),
        .library(name: "PTVerify", targets: ["PTVerify"]),
        .executable(name: "ptload", targets: ["ptload"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.1.1"),
    ],
    targets: [
        // libzip through pkg-config; Debian's libzip-dev.
        .systemLibrary(
            name: "CLibzip",
            pkgConfig: "libzip",
            providers: [.apt(["libzip-dev"])]
        ),
        // Zip archives and memory-mapped files: the only Swift target that touches C.
        .target(name: "PTZip", dependencies: ["CLibzip"]),
        // The pickle machine: opcodes, stack, memo, a value tree. Knows nothing of torch.
        .target(name: "PTPickle"),
        // DType, shapes, strides, storages (mapped or owned), contiguous copies.
        .target(name: "PTTensor"),
        // What torch means: rebuild functions, storages, state dicts, modules, legacy and
        // TorchScript layouts, and the allow/deny policy for globals.
        .target(name: "PTCheckpoint", dependencies: ["PTZip", "PTPickle", "PTTensor"]),
        // OpenBLAS through pkg-config; Debian's libopenblas-dev.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),
        // Packed matrix products and fused gate kernels compiled for AVX-512. Only ever called
        // after PTKernels has checked the CPU (CPUFeatures.hasAVX512).
        // (LLVM's tuning for that CPU prefers 256-bit loops; the gate loops run faster at 512.)
        // A header-only module: the prefetch and pause instructions, which Swift cannot spell.
        .systemLibrary(name: "CIntrinsics"),
        .target(name: "PTKernelsAVX512", dependencies: ["CIntrinsics"], swiftSettings: [
            .unsafeFlags(["-target-cpu", "skylake-avx512", "-Xllvm", "-force-vector-width=16"]),
        ]),
        // Matrix products and activations: the only Swift target that imports COpenBLAS.
        .target(name: "PTKernels", dependencies: [
            "CIntrinsics",
            "COpenBLAS",
            "PTKernelsAVX512",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        // RNN, LSTM, GRU, their cells, Embedding, Linear: loading from checkpoints, running.
        .target(name: "PTNN", dependencies: ["PTCheckpoint", "PTKernels", "PTKernelsAVX512", "PTTensor"]),
        // .npy / .npz read and write (npz through the zip layer).
        .target(name: "PTNumpy", dependencies: ["PTZip", "PTTensor"]),
        // Running a module against PyTorch's reference outputs: tolerance policy, comparison, report.
        .target(name: "PTVerify", dependencies: ["PTCheckpoint", "PTKernels", "PTNN", "PTNumpy", "PTTensor"]),
        // The command: argument parsing and printing only.
        .executableTarget(
            name: "ptload",
            dependencies: [
                "PTCheckpoint",
                "PTNN",
                "PTVerify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Byte-level builders for test inputs (zip archives, pickles); used by tests only.
        .target(name: "PTTestSupport", dependencies: ["PTZip"], path: "Tests/PTTestSupport"),
        // Runs a command and reports its own peak RSS and CPU time; used by the CLI tests only.
        .executableTarget(name: "peak-rss", path: "Tests/PeakRSS"),
        .testTarget(name: "PTZipTests", dependencies: ["PTZip"]),
        .testTarget(name: "PTPickleTests", dependencies: ["PTPickle"]),
        .testTarget(name: "PTTensorTests", dependencies: ["PTTensor"]),
        .testTarget(name: "PTCheckpointTests", dependencies: ["PTCheckpoint", "PTTestSupport"]),
        .testTarget(name: "PTNNTests", dependencies: ["PTNN", "PTKernels", "PTKernelsAVX512", "PTNumpy", "PTTestSupport"]),
        .testTarget(name: "PTNumpyTests", dependencies: ["PTNumpy", "PTZip"]),
        .testTarget(name: "PTVerifyTests", dependencies: ["PTVerify", "PTNumpy", "PTTestSupport"]),
        .testTarget(name: "PTLoadCLITests", dependencies: ["PTKernels", "PTTestSupport"]),
    ]
)
