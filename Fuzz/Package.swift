// swift-tools-version:5.10
// libFuzzer harnesses for ptload's five entry points that read untrusted bytes. Built apart
// from the main package because every module they reach is compiled with AddressSanitizer and
// libFuzzer's coverage (tools/fuzz holds the `swift build` line, and links libFuzzer without
// its main). `make fuzz` (tools/fuzz) builds them, seeds them from Fixtures/ and runs each for
// a while; harness NAME is the executable FuzzNAME.
import PackageDescription

let package = Package(
    name: "ptload-fuzz",
    dependencies: [
        .package(name: "ptload", path: ".."),
    ],
    targets: [
        // libFuzzer's driver, called from each harness's main.
        .target(name: "FuzzSupport"),
        // The whole checkpoint loader: zip or legacy stream, pickle, storages, views, safetensors
        // recognised by content, then what `ptload FILE`, `--export` and `--verify` do with the
        // result (summary, streamed bytes, values, module loading).
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
        // The safetensors reader, reached by the file's name as well as by its content (the
        // checkpoint harness reaches it by content only), then the summary and streamed bytes.
        .executableTarget(name: "FuzzSafetensors", dependencies: [
            "FuzzSupport",
            .product(name: "PTCheckpoint", package: "ptload"),
            .product(name: "PTNN", package: "ptload"),
            .product(name: "PTRunner", package: "ptload"),
            .product(name: "PTTensor", package: "ptload"),
        ]),
        // The golden manifest parser (strict JSON, then the cases' checks), and each case's
        // reference located inside an empty scratch folder.
        .executableTarget(name: "FuzzManifest", dependencies: [
            "FuzzSupport",
            .product(name: "PTRunner", package: "ptload"),
        ]),
    ]
)
