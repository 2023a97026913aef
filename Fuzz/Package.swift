// swift-tools-version:5.10
// libFuzzer harnesses for ptload's three entry points that read untrusted bytes. Built apart
// from the main package because every module they reach is compiled with the sanitizers:
//   swift build --package-path Fuzz -c debug -Xswiftc -sanitize=fuzzer,address
// `make fuzz` (tools/fuzz) builds them, seeds them from Fixtures/ and runs each for a while.
import PackageDescription

let package = Package(
    name: "ptload-fuzz",
    dependencies: [
        .package(name: "ptload", path: ".."),
    ],
    targets: [
        // libFuzzer's driver, called from each harness's main.
        .target(name: "FuzzSupport"),
        // The whole checkpoint loader: zip or legacy stream, pickle, storages, views, then what
        // `ptload FILE` and `--verify` do with the result (summary, values, module loading).
        .executableTarget(name: "FuzzCheckpoint", dependencies: [
            "FuzzSupport",
            .product(name: "PTCheckpoint", package: "ptload"),
            .product(name: "PTKernels", package: "ptload"),
            .product(name: "PTNN", package: "ptload"),
            .product(name: "PTRunner", package: "ptload"),
            .product(name: "PTTensor", package: "ptload"),
        ]),
        // The pickle machine alone, with permissive hooks.
        .executableTarget(name: "FuzzPickle", dependencies: [
            "FuzzSupport",
            .product(name: "PTPickle", package: "ptload"),
        ]),
        // The .npy reader; inputs starting with a zip signature go to the .npz reader.
        .executableTarget(name: "FuzzNumpy", dependencies: [
            "FuzzSupport",
            .product(name: "PTNumpy", package: "ptload"),
        ]),
    ]
)
