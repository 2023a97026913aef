#!/usr/bin/env bash
# Proves that another package can use ptload's libraries, two ways: through a versioned URL
# dependency (a local clone of this repository's HEAD, tagged 0.0.1:
# `.package(url: "file://…", from: "0.0.1")`, which SwiftPM refuses for a package whose targets
# use unsafe flags), and through a path dependency. In both, a small program imports every
# library product, loads a golden fixture, runs its bidirectional LSTM with lengths and compares
# the result with PyTorch's outputs. Run by `make test` (make test-downstream).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SWIFT=${SWIFT:-swift}
work=$(mktemp -d "${TMPDIR:-/tmp}/ptload-downstream.XXXXXX")
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/ptload"
git -C "$work/ptload" -c user.name=ptload -c user.email=ptload@localhost tag -a 0.0.1 -m "downstream test"

app() {   # app FOLDER DEPENDENCY-LINE
  mkdir -p "$1/Sources/app"
  cat > "$1/Package.swift" <<MANIFEST
// swift-tools-version:5.10
import PackageDescription

let package = Package(
    name: "app",
    dependencies: [
        $2,
    ],
    targets: [
        .executableTarget(name: "app", dependencies: [
            .product(name: "PTCheckpoint", package: "ptload"),
            .product(name: "PTExport", package: "ptload"),
            .product(name: "PTKernels", package: "ptload"),
            .product(name: "PTNN", package: "ptload"),
            .product(name: "PTNumpy", package: "ptload"),
            .product(name: "PTPickle", package: "ptload"),
            .product(name: "PTRunner", package: "ptload"),
            .product(name: "PTTensor", package: "ptload"),
            .product(name: "PTVerify", package: "ptload"),
        ]),
    ]
)
MANIFEST
  cat > "$1/Sources/app/main.swift" <<'PROGRAM'
import Foundation
import PTCheckpoint
import PTExport
import PTKernels
import PTNN
import PTNumpy
import PTPickle
import PTRunner
import PTTensor
import PTVerify

// A bidirectional LSTM over 120 steps with unsorted lengths, written by PyTorch, against its outputs.
let folder = CommandLine.arguments[1]
let checkpoint = try Checkpoint.load(path: folder + "/lstm_long_bi_len.pt")
let reference = try Numpy.readNpz(path: folder + "/lstm_long_bi_len.npz")
func array(_ name: String) -> Tensor { reference.first { $0.name == name }!.tensor }
let lstm: Recurrent<Float> = try ModuleCatalog(checkpoint).recurrent()
let out = try lstm.forward(try ShapedArray(array("input")), h0: try ShapedArray(array("h0")),
                           c0: try ShapedArray(array("c0")), lengths: try array("lengths").doubles().map { Int($0) },
                           compute: Compute(threads: ThreadCount(2), pool: ThreadPool()))
let limits = PickleLimits.default
var passed = limits.maxOpcodes > 0
for (name, actual) in [("output", out.output!), ("h_n", out.hN), ("c_n", out.cN!)] {
    let c = try Comparison(name: name, actual: actual, expected: array(name), tolerance: Tolerance.defaults(for: .float32))
    print("\(name): max abs error \(c.maxAbsError), \(c.passed ? "PASS" : "FAIL")")
    passed = passed && c.passed
}
print("\(lstm.config) on the \(lstm.kernels) kernels: \(passed ? "PASS" : "FAIL")")
// The same case through the service, as `ptload MODEL --verify REF` runs it.
let report = try ModuleRunner.run(.init(modelPath: folder + "/lstm_long_bi_len.pt", referencePath: folder + "/lstm_long_bi_len.npz"))
print("ModuleRunner: \(report.passed ? "PASS" : "FAIL")")
// The outputs computed in Swift, saved as .safetensors.
var writer = try CheckpointWriter()
try writer.add("output", array: out.output!)
try writer.add("h_n", array: out.hN)
let saved = try writer.write(to: NSTemporaryDirectory() + "/downstream.safetensors")
print("CheckpointWriter: \(saved.tensors) tensors, \(saved.bytes) bytes")
exit(passed && report.passed ? 0 : 1)
PROGRAM
}

status=0
for way in url path; do
  case $way in
    url) line=".package(url: \"file://$work/ptload\", from: \"0.0.1\")" ;;
    path) line=".package(path: \"$work/ptload\")" ;;
  esac
  app "$work/app-$way" "$line"
  echo "test-downstream: a package depending on ptload by $way" >&2
  if "$SWIFT" build --package-path "$work/app-$way" >"$work/build-$way.log" 2>&1 \
     && "$work/app-$way/.build/debug/app" "$root/Fixtures/rnn"; then
    echo "test-downstream: $way dependency: passed" >&2
  else
    tail -20 "$work/build-$way.log" >&2
    echo "test-downstream: $way dependency: FAILED" >&2
    status=1
  fi
done
exit $status
