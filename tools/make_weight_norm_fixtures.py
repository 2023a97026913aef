#!/usr/bin/env python3
"""Writes Fixtures/weightnorm: recurrent modules whose weights torch stores under weight norm,
both ways torch has (`torch.nn.utils.weight_norm`: NAME_g, NAME_v;
`torch.nn.utils.parametrizations.weight_norm`: parametrizations.NAME.original0/original1), with
every norm axis (dim=0, the default; dim=1; dim=None), and one parametrization ptload does not
compute (orthogonal). For each: model.pt (the state dict), and an .npz with the input, torch's
outputs (output, h_n, c_n) and each weight as the module computes it (`weight.<name>`), for
Tests/PTNNTests/WeightNormTests.swift.

    /tmp/torch-venv/bin/python tools/make_weight_norm_fixtures.py
"""
import json
import os
import platform
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrizations

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Fixtures", "weightnorm")
SEED = 20261203


def old_norm(module: nn.Module, name: str, dim) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.nn.utils.weight_norm(module, name, dim=dim)


def scale_g(module: nn.Module) -> None:
    """g starts as ‖v‖ (the weight unchanged); move it so that the test sees g at work."""
    with torch.no_grad():
        for key, p in module.named_parameters():
            if key.endswith("_g") or key.endswith("original0"):
                p.mul_(torch.linspace(0.5, 1.5, p.numel()).reshape(p.shape))


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(SEED)
    cases = {}

    def save(name: str, module: nn.Module, call, names, kind: str, batch_first: bool = False) -> None:
        module.eval()
        scale_g(module)
        torch.save(module.state_dict(), os.path.join(OUT, name + ".pt"))
        members = {}
        with torch.no_grad():
            members.update(call(module))
            for n in names:
                members["weight." + n] = getattr(module, n).detach().numpy()
        np.savez(os.path.join(OUT, name + ".npz"), **members)
        cases[name] = {"kind": kind, "batch_first": batch_first, "keys": list(module.state_dict()),
                       "weights": list(names)}

    def sequence(batch_first: bool, input_size: int, lstm: bool):
        def call(m):
            x = torch.randn((3, 4, input_size) if batch_first else (4, 3, input_size))
            out, state = m(x)
            h, c = state if lstm else (state, None)
            got = {"input": x.numpy(), "output": out.numpy(), "h_n": h.numpy()}
            if c is not None:
                got["c_n"] = c.numpy()
            return got
        return call

    m = nn.LSTM(5, 7, num_layers=2, batch_first=True)
    old_norm(m, "weight_hh_l0", 0)
    old_norm(m, "weight_ih_l1", 1)
    save("lstm_old_api", m, sequence(True, 5, True), ["weight_hh_l0", "weight_ih_l1"], "LSTM", True)

    m = nn.GRU(5, 6)
    parametrizations.weight_norm(m, "weight_hh_l0")
    parametrizations.weight_norm(m, "weight_ih_l0", dim=None)
    save("gru_parametrizations", m, sequence(False, 5, False), ["weight_hh_l0", "weight_ih_l0"], "GRU")

    m = nn.LSTMCell(4, 5)
    old_norm(m, "weight_ih", None)
    parametrizations.weight_norm(m, "weight_hh")

    def cell(m):
        x, h0, c0 = torch.randn(3, 4), torch.randn(3, 5), torch.randn(3, 5)
        h, c = m(x, (h0, c0))
        return {"input": x.numpy(), "h0": h0.numpy(), "c0": c0.numpy(), "h_n": h.numpy(), "c_n": c.numpy()}
    save("lstmcell_both_apis", m, cell, ["weight_ih", "weight_hh"], "LSTMCell")

    m = nn.GRU(5, 6)
    parametrizations.orthogonal(m, "weight_hh_l0")
    save("gru_orthogonal", m, sequence(False, 5, False), ["weight_hh_l0"], "GRU")
    cases["gru_orthogonal"]["parametrization"] = "orthogonal"

    manifest = {"generator": "tools/make_weight_norm_fixtures.py", "seed": SEED, "torch_version": torch.__version__,
                "numpy_version": np.__version__, "python_version": platform.python_version(), "cases": cases}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
