// swift-tools-version:6.0
// ptload: read PyTorch checkpoints without Python, run their recurrent layers, verify against PyTorch.
//
// Dependencies point one way:
//   CLibzip ← PTZip ← PTCheckpoint ← PTNN ← PTRunner ← ptload
//   PTPickle, PTTensor, PTSafetensors ← PTCheckpoint;  PTTensor ← PTSafetensors;
//   PTKernelsC ← PTKernels ← PTNN;
//   PTZip, PTTensor ← PTNumpy ← PTRunner;  PTTensor ← PTVerify ← PTRunner;
//   PTCheckpoint, PTNumpy, PTPickle, PTSafetensors, PTTensor, PTZip ← PTExport ← PTRunner
//   PTText (escaping for output, no dependencies) ← PTZip, PTPickle, PTNumpy, PTSafetensors, PTCheckpoint, ptload
// C sits at two named boundaries: libzip in the zip layer (only PTZip imports CLibzip) and the
// kernels (only PTKernels imports PTKernelsC); nothing above them touches C.
import PackageDescription

let package = Package(
    name: "ptload",
    // Synchronization's Atomic and Mutex (the thread pool; Mutex is the one lock type) need the
    // Swift 6 toolchain and, on Apple platforms, macOS 15. Every target builds in the Swift 6
    // language mode, with complete concurrency checking.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PTPickle", targets: ["PTPickle"]),
        .library(name: "PTTensor", targets: ["PTTensor"]),
        .library(name: "PTSafetensors", targets: ["PTSafetensors"]),
        .library(name: "PTCheckpoint", targets: ["PTCheckpoint"]),
        .library(name: "PTKernels", targets: ["PTKernels"]),
        .library(name: "PTNN", targets: ["PTNN"]),
        .library(name: "PTNumpy", targets: ["PTNumpy"]),
        .library(name: "PTVerify", targets: ["PTVerify"]),
        .library(name: "PTRunner", targets: ["PTRunner"]),
        .library(name: "PTExport", targets: ["PTExport"]),
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
        // Untrusted text written safely into each output language: one escaper for a terminal
        // line, a Python literal, JSON and XML. Package-internal, no dependencies.
        .target(name: "PTText"),
        // Zip archives and memory-mapped files: the only Swift target that touches C.
        .target(name: "PTZip", dependencies: ["CLibzip", "PTText"]),
        // The pickle machine: opcodes, stack, memo, a value tree, and the writer. Knows nothing
        // of torch.
        .target(name: "PTPickle", dependencies: ["PTText"]),
        // DType (and what each file format calls it), shapes, strides, storages (mapped or
        // owned), contiguous copies; the element types computations use (Real: the elementary
        // functions the layers' maths needs).
        .target(name: "PTTensor", dependencies: [.product(name: "RealModule", package: "swift-numerics")]),
        // The .safetensors format: the header's strict reader and the writer's layout.
        .target(name: "PTSafetensors", dependencies: ["PTTensor", "PTText"]),
        // What torch means: rebuild functions, storages, state dicts, modules, legacy and
        // TorchScript layouts, and the allow/deny policy for globals; .safetensors files read
        // into the same Checkpoint.
        .target(name: "PTCheckpoint", dependencies: ["PTZip", "PTPickle", "PTSafetensors", "PTTensor", "PTText"]),
        // Packed matrix products, fused recurrent gates and their maths in C, written once
        // (kernels.inc) and compiled once per instruction set under a target attribute
        // (AVX-512, AVX2+FMA, NEON, plain): no compiler flags. Only PTKernels calls it, after
        // checking the CPU.
        .target(name: "PTKernelsC"),
        // CPU detection, the compute options, the kernel tables, packed weights, the reference
        // product, threads: the only Swift target that imports PTKernelsC.
        .target(name: "PTKernels", dependencies: [
            "PTKernelsC",
            "PTTensor",
            .product(name: "RealModule", package: "swift-numerics"),
        ]),
        // RNN, LSTM, GRU, their cells, Embedding, Linear: loading from checkpoints, running.
        .target(name: "PTNN", dependencies: ["PTCheckpoint", "PTKernels", "PTTensor"]),
        // .npy / .npz read and write (npz through the zip layer).
        .target(name: "PTNumpy", dependencies: ["PTZip", "PTTensor", "PTText"]),
        // Judging computed arrays against PyTorch's: the tolerance policy and the comparison.
        .target(name: "PTVerify", dependencies: ["PTTensor"]),
        // The application service, every mode of the command: list a checkpoint
        // (CheckpointListing), convert it (CheckpointExport), load, locate, run, write and compare
        // its modules against reference files (ModuleRunner) or a golden manifest (GoldenSuite).
        .target(name: "PTRunner", dependencies: [
            "PTCheckpoint", "PTExport", "PTKernels", "PTNN", "PTNumpy", "PTTensor", "PTVerify", "PTZip"
        ]),
        // Writing checkpoints: .safetensors, .npz and .pt from a loaded checkpoint or Swift
        // arrays, streamed one tensor at a time, with PyTorch's rounding for casts. A checkpoint's
        // record that fails when read is carried as its CheckpointError.
        .target(name: "PTExport", dependencies: [
            "PTCheckpoint", "PTNumpy", "PTPickle", "PTSafetensors", "PTTensor", "PTZip"
        ]),
        // The command: argument parsing and printing only.
        .executableTarget(
            name: "ptload",
            dependencies: [
                "PTCheckpoint",
                "PTExport",
                "PTKernels",
                "PTNN",
                "PTRunner",
                "PTTensor",
                "PTText",
                "PTVerify",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Byte-level builders for test inputs (zip archives, torch pickles); used by tests only.
        .target(name: "PTTestSupport", dependencies: ["PTPickle", "PTZip"], path: "Tests/PTTestSupport"),
        // Runs a command and reports its own peak RSS and CPU time; used by the CLI tests only.
        .executableTarget(name: "peak-rss", path: "Tests/PeakRSS"),
        .target(name: "PTAllocationCounter", path: "Tests/PTAllocationCounter"),
        .testTarget(name: "PTZipTests", dependencies: ["PTZip", "PTTestSupport"]),
        .testTarget(name: "PTPickleTests", dependencies: ["PTPickle"]),
        .testTarget(name: "PTTensorTests", dependencies: ["PTTensor"]),
        .testTarget(name: "PTSafetensorsTests", dependencies: ["PTSafetensors", "PTTensor"]),
        .testTarget(name: "PTTextTests", dependencies: ["PTText"]),
        .testTarget(name: "PTCheckpointTests", dependencies: [
            "PTCheckpoint", "PTPickle", "PTTensor", "PTTestSupport", "PTZip"
        ]),
        .testTarget(name: "PTKernelsTests", dependencies: [
            "PTKernels", "PTTensor", .product(name: "RealModule", package: "swift-numerics")
        ]),
        .testTarget(name: "PTNNTests", dependencies: [
            "PTAllocationCounter", "PTCheckpoint", "PTNN", "PTPickle", "PTKernels", "PTNumpy", "PTTensor",
            "PTTestSupport", "PTVerify"
        ]),
        .testTarget(name: "PTNumpyTests", dependencies: ["PTNumpy", "PTTensor", "PTZip"]),
        .testTarget(name: "PTVerifyTests", dependencies: ["PTVerify", "PTTensor"]),
        .testTarget(name: "PTExportTests", dependencies: ["PTCheckpoint", "PTExport", "PTTensor", "PTTestSupport"]),
        .testTarget(name: "PTRunnerTests", dependencies: [
            "PTRunner", "PTKernels", "PTNN", "PTNumpy", "PTTensor", "PTTestSupport"
        ]),
        .testTarget(name: "PTLoadCLITests", dependencies: [
            "PTCheckpoint", "PTKernels", "PTNumpy", "PTPickle", "PTTensor", "PTTestSupport", "PTZip"
        ]),
    ],
    swiftLanguageModes: [.v6]
)
