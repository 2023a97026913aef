"""Runs two ptload binaries over every fixture and corpus file and says whether their outputs
are byte-identical: stdout, stderr, exit status and written .npz files, in text and JSON, with
timings taken out. For refactors that must not change what users see.

    python -m ptload_tools.compare_cli OLD_PTLOAD NEW_PTLOAD [--show N]

Invocations: every checkpoint under Fixtures/ listed (text, --json, --skip-crc, --strict), every golden
RNN case verified (text, --json, --output), every hostile-corpus case with its arguments, every
file under Fixtures/checkpoints and Fixtures/hostile exported to .npz, .safetensors and .pt (as
it is, with --cast float16, with --strict), and the usage errors and options the CLI tests
exercise. What a run leaves in its scratch folder (the output, and any file beside it) is
compared byte for byte. Exit status 0 when every invocation matches, 1 otherwise (the differing
ones are printed, the first N in full). Needs only Python 3.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from typing import List, Tuple

from ptload_tools.common.paths import repo_root

ROOT = str(repo_root())
FIX = os.path.join(ROOT, "Fixtures")
#: (label, ptload's arguments); `{out}` in them is a per-run output path ending in .npz,
#: `{out.EXT}` one ending in .EXT.
Invocation = Tuple[str, List[str]]

#: The formats --export writes, by the output's extension.
EXPORT_FORMATS = ["npz", "safetensors", "pt"]
#: Options an export is run with, besides none.
EXPORT_VARIANTS: List[List[str]] = [[], ["--cast", "float16"], ["--strict"]]


def export_invocations() -> List[Invocation]:
    """Every file under Fixtures/checkpoints and Fixtures/hostile (models, and the reference
    files the corpus holds, which --export refuses) exported to each format, in each variant."""
    runs = []
    for folder in ["checkpoints", "hostile"]:
        for name in sorted(os.listdir(os.path.join(FIX, folder))):
            path = os.path.join("Fixtures", folder, name)
            if name.endswith((".json", ".md")) or not os.path.isfile(os.path.join(ROOT, path)):
                continue
            for ext in EXPORT_FORMATS:
                for options in EXPORT_VARIANTS:
                    args = [path, "--export", "{out.%s}" % ext] + options
                    runs.append((" ".join([path, "--export", "OUT." + ext] + options), args))
    return runs


def invocations() -> List[Invocation]:
    """(label, args) pairs; `{out}` / `{out.EXT}` in args is a per-run output path."""
    runs = []
    for folder in ["checkpoints", "rnn", "hostile"]:
        for name in sorted(os.listdir(os.path.join(FIX, folder))):
            if name.endswith((".pt", ".pth")):
                path = os.path.join("Fixtures", folder, name)
                runs += [(path, [path]), (path + " --json", [path, "--json"]),
                         (path + " --skip-crc", [path, "--skip-crc"]), (path + " --strict", [path, "--strict"])]
    with open(os.path.join(FIX, "rnn", "cases.json")) as f:
        cases = json.load(f)
    for c in cases:
        model = os.path.join("Fixtures", "rnn", c["model"])
        ref = os.path.join("Fixtures", "rnn", c["reference"])
        base = [model, "--verify", ref] + c["args"]
        runs += [(c["name"], base), (c["name"] + " --json", base + ["--json"]),
                 (c["name"] + " --output", base + ["--output", "{out}"]),
                 (c["name"] + " --threads 3", base + ["--threads", "3", "--json"])]
    with open(os.path.join(FIX, "hostile", "expected.json")) as f:
        corpus = json.load(f)
    hostile = os.path.join("Fixtures", "hostile")
    for i, c in enumerate(corpus):
        path = os.path.join(hostile, c["file"])
        args = [a.replace("{dir}", hostile) for a in c.get("args", [])]
        runs += [("hostile %d %s" % (i, c["file"]), [path] + args),
                 ("hostile %d %s --strict" % (i, c["file"]), [path, "--strict"] + args)]

    def rnn(n: str) -> str:
        return os.path.join("Fixtures", "rnn", n)

    lstm, ref = rnn("lstm_long.pt"), rnn("lstm_long.npz")
    runs += [
        ("module+pipeline", [lstm, "--verify", ref, "--module", "a", "--pipeline", "a,b"]),
        ("bad nonlinearity", [lstm, "--verify", ref, "--nonlinearity", "sigmoid"]),
        ("nonlinearity on lstm", [lstm, "--verify", ref, "--nonlinearity", "relu"]),
        ("no module", [lstm, "--verify", ref, "--module", "decoder"]),
        ("repeat 0", [lstm, "--verify", ref, "--repeat", "0"]),
        ("threads 0", [lstm, "--verify", ref, "--threads", "0"]),
        ("rtol", [lstm, "--verify", ref, "--rtol", "0", "--atol", "0"]),
        ("negative rtol", [lstm, "--verify", ref, "--rtol", "-1"]),
        ("skip-crc verify", [lstm, "--verify", ref, "--skip-crc"]),
        ("input without verify", [lstm, "--input", ref]),
        ("missing file", ["Fixtures/none.pt"]),
        ("missing reference", [lstm, "--verify", "Fixtures/none.npz"]),
        ("unknown flag", [lstm, "--frobnicate"]),
        ("no model", []),
        ("batch-first on pickled", [rnn("full_gru_bf.pt"), "--verify", rnn("full_gru_bf.npz")]),
        ("batch-first contradicts", [rnn("full_rnn_relu_l2.pt"), "--verify", rnn("full_rnn_relu_l2.npz"), "--batch-first"]),
        ("nonlinearity contradicts", [rnn("full_rnn_relu_l2.pt"), "--verify", rnn("full_rnn_relu_l2.npz"), "--nonlinearity", "tanh"]),
        ("several recurrent", [os.path.join("Fixtures", "checkpoints", "full_net.pt"), "--verify", ref]),
        ("pipeline", [rnn("pipe_emb_lstm_fc.pt"), "--verify", rnn("pipe_emb_lstm_fc.npz"), "--pipeline", "emb,lstm,fc", "--json"]),
        ("pipeline unknown", [rnn("pipe_emb_lstm_fc.pt"), "--verify", rnn("pipe_emb_lstm_fc.npz"), "--pipeline", "emb,nope"]),
        ("wrong module kind", [rnn("pipe_emb_lstm_fc.pt"), "--verify", rnn("pipe_emb_lstm_fc.npz"), "--module", "fc"]),
        ("input npy", [lstm, "--input", ref, "--output", "{out}"]),
    ]
    return runs + export_invocations()


TIMING_JSON = re.compile(r'"(load_s|forward_s|crc_s)" : [-0-9.e+]+')
TIMING_TEXT = re.compile(r"\b\d+(\.\d+)?(e-?\d+)? ?(ms|µs|s)\b")


def strip(text: str) -> str:
    return TIMING_TEXT.sub("<time>", TIMING_JSON.sub(r'"\1" : <time>', text))


OUT_PATTERN = re.compile(r"\{out(?:\.(\w+))?\}")


def run(binary: str, args: List[str], scratch: str) -> Tuple[int, str, str, List[Tuple[str, bytes]]]:
    """Runs `binary` with `args` (`{out}` → SCRATCH/out.npz, `{out.EXT}` → SCRATCH/out.EXT) and
    returns its status, stdout and stderr (timings taken out) and every file it left in
    `scratch`, by name, which it then empties."""
    argv = [binary] + [OUT_PATTERN.sub(lambda m: os.path.join(scratch, "out." + (m.group(1) or "npz")), a) for a in args]
    p = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=300,
                       env=dict(os.environ, PTLOAD_WORK_REPORT=""))
    written = []
    for name in sorted(os.listdir(scratch)):
        path = os.path.join(scratch, name)
        with open(path, "rb") as f:
            written.append((name, f.read()))
        os.remove(path)
    return p.returncode, strip(p.stdout.decode("utf-8", "replace")), strip(p.stderr.decode("utf-8", "replace")), written


def sizes(written: List[Tuple[str, bytes]]) -> List[Tuple[str, int]]:
    """The files a run left, by name and size."""
    return [(name, len(data)) for name, data in written]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    old, new = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    show = int(sys.argv[sys.argv.index("--show") + 1]) if "--show" in sys.argv else 5
    runs = invocations()
    differing = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, args in runs:
            a, b = run(old, args, tmp), run(new, args, tmp)
            if a != b:
                differing.append((label, args, a, b))
    for label, args, a, b in differing[:show]:
        print("DIFFERS: %s\n  args: %s" % (label, " ".join(args)))
        for what, x, y in zip(["exit", "stdout", "stderr", "written"], a, b):
            if x != y:
                print("  %s old: %r\n  %s new: %r" % (what, x if what != "written" else sizes(x), what, y if what != "written" else sizes(y)))
    for label, _, _, _ in differing[show:]:
        print("DIFFERS: %s" % label)
    print("%d invocations, %d identical, %d differ" % (len(runs), len(runs) - len(differing), len(differing)))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
