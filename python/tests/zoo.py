"""Small, seeded models reproducing what broke the version-1 exporter (issue 19), each exported
to a folder by ptload_golden. `ZOO[name](out)` returns the exported folders and the module whose
bias the perturbation test nudges."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import ptload_golden


@dataclasses.dataclass
class Exported:
    """A folder written by the exporter and the checkpoint ptload verifies it against."""

    folder: Path
    checkpoint: Path
    manifest: Dict[str, object]


@dataclasses.dataclass
class ZooResult:
    exported: List[Exported]
    #: The recurrent module (state_dict prefix) the perturbation test changes.
    target: str
    #: The case names every folder must hold, in order of folders.
    cases: List[List[str]]


def _seed(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(1000 + seed)


def _export(model: nn.Module, args: tuple, out: Path, **kwargs: object) -> Exported:
    manifest = ptload_golden.export(model, args, str(out), **kwargs)  # type: ignore[arg-type]
    return Exported(out, out / "model.pt", manifest)


# 1. Dropout kept on in eval: a Tacotron-style prenet (F.dropout(training=True)) before an LSTM.
class DropoutPrenet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pre1, self.pre2 = nn.Linear(6, 8), nn.Linear(8, 8)
        self.rnn = nn.LSTM(8, 10)
        self.proj = nn.Linear(10, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.dropout(F.relu(self.pre1(x)), 0.5, training=True)
        x = F.dropout(F.relu(self.pre2(x)), 0.5, training=True)
        out, _ = self.rnn(x)
        return self.proj(out)


def dropout_prenet(out: Path) -> ZooResult:
    g = _seed(1)
    return ZooResult([_export(DropoutPrenet(), (torch.randn(7, 3, 6, generator=g),), out)], "rnn", [["rnn", "rnn,proj"]])


# 2. init_hidden() making float32 zeros, whatever the model's dtype.
class InitHidden(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(5, 7, num_layers=2, batch_first=True)

    def init_hidden(self, batch: int) -> torch.Tensor:
        return torch.zeros(2, batch, 7) + 0.25

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.gru(x, self.init_hidden(x.shape[0]))
        return h[-1]


def init_hidden(out: Path) -> ZooResult:
    g = _seed(2)
    return ZooResult([_export(InitHidden(), (torch.randn(3, 6, 5, generator=g),), out)], "gru", [["gru"]])


# 3. .float() inside forward: integer audio-like features cast, a relu RNN, a float32 conv front end.
class FloatInForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 3, padding=1)
        self.rnn = nn.RNN(6, 8, num_layers=2, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.float().transpose(1, 2) / 64.0).permute(2, 0, 1)
        out, _ = self.rnn(y.float())
        return out


def float_in_forward(out: Path) -> ZooResult:
    g = _seed(3)
    x = torch.randint(-128, 128, (2, 9, 4), generator=g, dtype=torch.int16)
    return ZooResult([_export(FloatInForward(), (x,), out)], "rnn", [["rnn"]])


# 4. An _apply override returning None (breaks .double() and .to()).
class ApplyNone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 6, bidirectional=True)
        self.head = nn.Linear(12, 2)

    def _apply(self, fn, recurse=True):  # type: ignore[no-untyped-def]
        super()._apply(fn, recurse)
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(x)[0])


def apply_none(out: Path) -> ZooResult:
    g = _seed(4)
    return ZooResult([_export(ApplyNone(), (torch.randn(5, 2, 4, generator=g),), out)], "lstm", [["lstm", "lstm,head"]])


# 5. nn.DataParallel on the CPU (no device ids: it calls its module directly): keys carry `module.`.
class Projected(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(5, 9, num_layers=2, proj_size=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


def data_parallel(out: Path) -> ZooResult:
    g = _seed(5)
    model = nn.DataParallel(Projected())
    return ZooResult([_export(model, (torch.randn(6, 3, 5, generator=g),), out)], "module.rnn", [["module.rnn"]])


# 6. torch.nn.utils.weight_norm on an LSTM's weight_ih_l0 and weight_hh_l0 (keys NAME_g, NAME_v).
class WeightNormLSTM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        lstm = nn.LSTM(5, 8, num_layers=2)
        lstm = torch.nn.utils.weight_norm(lstm, "weight_ih_l0")
        self.lstm = torch.nn.utils.weight_norm(lstm, "weight_hh_l0")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def weight_norm_lstm(out: Path) -> ZooResult:
    g = _seed(6)
    model = WeightNormLSTM()
    with torch.no_grad():  # g away from ‖v‖, so that the norm matters
        model.lstm.weight_hh_l0_g.mul_(1.7)
        model.lstm.weight_ih_l0_g.mul_(0.6)
    return ZooResult([_export(model, (torch.randn(8, 2, 5, generator=g),), out)], "lstm", [["lstm"]])


# 7. parametrizations.weight_norm on a GRU's weight_ih_l0 and weight_hh_l0 (original0/original1).
class ParametrizedGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        gru = nn.GRU(6, 7, batch_first=True)
        gru = torch.nn.utils.parametrizations.weight_norm(gru, "weight_ih_l0")
        self.gru = torch.nn.utils.parametrizations.weight_norm(gru, "weight_hh_l0")
        self.out = nn.Linear(7, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(x)[0])


def weight_norm_gru(out: Path) -> ZooResult:
    g = _seed(7)
    model = ParametrizedGRU()
    with torch.no_grad():
        model.gru.parametrizations.weight_hh_l0.original0.mul_(1.5)
    return ZooResult([_export(model, (torch.randn(2, 8, 6, generator=g),), out)], "gru", [["gru", "gru,out"]])


# 8. torch.jit.script: export() names the recurrent submodules; export_module on each, against model.jit.
class Scriptable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(4, 6, num_layers=2, batch_first=True)
        self.decoder = nn.GRUCell(6, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, (h, c) = self.encoder(x)
        state = h[-1]
        for t in range(3):
            state = self.decoder(out[:, t], state)
        return state


def _jit_folders(model: torch.jit.ScriptModule, calls: Dict[str, tuple], out: Path) -> List[Exported]:
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "model.jit"
    torch.jit.save(model, str(checkpoint))
    loaded = torch.jit.load(str(checkpoint))
    folders = []
    for path, args in calls.items():
        folder = out / path
        manifest = ptload_golden.export_module(getattr(loaded, path), args, str(folder), path=path, checkpoint="model.jit")
        folders.append(Exported(folder, checkpoint, manifest))
    return folders


def scripted(out: Path) -> ZooResult:
    g = _seed(8)
    model = torch.jit.script(Scriptable().eval())
    x = torch.randn(2, 5, 4, generator=g)
    try:
        ptload_golden.export(model, (x,), str(out / "whole"))
        raise AssertionError("export() of a scripted model must refuse")
    except ptload_golden.ScriptedModulesError as error:
        assert error.scripted == ["encoder", "decoder"], error.scripted
        assert "export_module" in str(error) and "encoder (LSTM)" in str(error)
    h0, c0 = torch.randn(2, 2, 6, generator=g) * 0.3, torch.randn(2, 2, 6, generator=g) * 0.3
    calls = {"encoder": (x, (h0, c0)), "decoder": (torch.randn(2, 6, generator=g), torch.randn(2, 6, generator=g))}
    return ZooResult(_jit_folders(model, calls, out), "encoder", [["encoder"], ["decoder"]])


# 9. torch.jit.trace: a traced submodule keeps only weights and cannot be called alone; batch_first
#    comes from its graph's aten::gru call.
class Traceable(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(5, 6, batch_first=True, bidirectional=True)
        self.rnn = nn.RNN(12, 4, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(x)
        out, _ = self.rnn(y.transpose(0, 1))
        return out


def traced(out: Path) -> ZooResult:
    g = _seed(9)
    x = torch.randn(3, 7, 5, generator=g)
    model = torch.jit.trace(Traceable().eval(), (x,))
    y = torch.randn(7, 3, 12, generator=g)
    folders = _jit_folders(model, {"gru": (x, torch.randn(2, 3, 6, generator=g)), "rnn": (y,)}, out)
    return ZooResult(folders, "rnn", [["gru"], ["rnn"]])


# 10. float16: Embedding → LSTM → Linear in half precision.
class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.lstm = nn.LSTM(6, 8)
        self.tag = nn.Linear(8, 5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.tag(self.lstm(self.embed(tokens))[0])


def half(out: Path) -> ZooResult:
    g = _seed(10)
    tokens = torch.randint(0, 20, (6, 3), generator=g)
    return ZooResult([_export(Tagger().half(), (tokens,), out)], "lstm", [["lstm", "embed,lstm,tag"]])


# 11. bfloat16: a batch_first GRU with an initial state, and an LSTMCell.
class BFloat(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 6, batch_first=True)
        self.cell = nn.LSTMCell(6, 5)

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        out, h = self.gru(x, h0)
        return self.cell(out[:, -1])[0]


def bfloat16(out: Path) -> ZooResult:
    g = _seed(11)
    x, h0 = torch.randn(2, 7, 4, generator=g), torch.randn(1, 2, 6, generator=g) * 0.5
    model = BFloat().to(torch.bfloat16)
    return ZooResult([_export(model, (x.bfloat16(), h0.bfloat16()), out)], "gru", [["gru", "cell"]])


# 12. PackedSequences: unsorted lengths (enforce_sorted=False) into a bidirectional 2-layer LSTM
#     with an initial state; sorted, batch_first ones into a GRU.
class Packed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
        self.gru = nn.GRU(3, 4, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, _ = self.encoder(packed, (h0, c0))
        out, _ = pad_packed_sequence(out)
        order = torch.sort(lengths, descending=True).indices
        packed = pack_padded_sequence(x[:, order].transpose(0, 1), lengths[order], batch_first=True)
        _, h = self.gru(packed)
        return out.sum() + h.sum()


def packed(out: Path) -> ZooResult:
    g = _seed(12)
    x = torch.randn(6, 4, 3, generator=g)
    lengths = torch.tensor([3, 6, 1, 4])
    h0, c0 = torch.randn(4, 4, 5, generator=g) * 0.3, torch.randn(4, 4, 5, generator=g) * 0.3
    return ZooResult([_export(Packed(), (x, lengths, h0, c0), out)], "encoder", [["encoder", "gru"]])


# 13. Keyword calls: rnn(x, hx=(h0, c0)) and cell(input=x, hx=h).
class Keywords(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(4, 5)
        self.cell = nn.RNNCell(5, 5, nonlinearity="relu")

    def forward(self, x: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor) -> torch.Tensor:
        out, (h, c) = self.lstm(x, hx=(h0, c0))
        return self.cell(input=out[-1], hx=h[0])


def keywords(out: Path) -> ZooResult:
    g = _seed(13)
    args = (torch.randn(5, 2, 4, generator=g), torch.randn(1, 2, 5, generator=g), torch.randn(1, 2, 5, generator=g))
    return ZooResult([_export(Keywords(), args, out)], "lstm", [["lstm", "cell"]])


# 14. Cells in a Python loop: an LSTMCell (6 steps, 4 recorded) feeding a Linear, then a GRUCell.
class CellLoop(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(3, 6)
        self.out = nn.Linear(6, 3)
        self.refine = nn.GRUCell(3, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = c = torch.zeros(x.shape[1], 6)
        ys = []
        for t in range(x.shape[0]):
            h, c = self.cell(x[t], (h, c))
            ys.append(self.out(h))
        return self.refine(torch.stack(ys).mean(0), h)


def cell_loop(out: Path) -> ZooResult:
    g = _seed(14)
    names = ["cell#%d" % i for i in range(4)] + ["refine"] + ["cell,out#%d" % i for i in range(4)]
    return ZooResult([_export(CellLoop(), (torch.randn(6, 2, 3, generator=g),), out)], "cell", [names])


# 15. One module called twice (a siamese encoder), and a second module.
class Siamese(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.GRU(4, 6)
        self.judge = nn.RNN(6, 3)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ha, hb = self.rnn(a)[1], self.rnn(b)[1]
        return self.judge(torch.cat([ha, hb]))[1]


def called_twice(out: Path) -> ZooResult:
    g = _seed(15)
    args = (torch.randn(5, 2, 4, generator=g), torch.randn(7, 2, 4, generator=g))
    return ZooResult([_export(Siamese(), args, out)], "rnn", [["rnn#0", "rnn#1", "judge"]])


# 16. Deep and long: a speaker encoder's 3-layer LSTM(40 → 256) over 300 frames of smooth,
#     speech-like features. PyTorch's own float32 result drifts from the float64 truth by more
#     than float32's atol (1e-5): the allowance (torch_distance) is what lets ptload pass.
class SpeakerEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, num_layers=3, batch_first=True)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        out, (h, _) = self.lstm(frames)
        return h[-1]


def speech_like(frames: int, features: int, batch: int, g: torch.Generator) -> torch.Tensor:
    """Log-mel-like features: slow formant-like sinusoids over frequency and time plus smoothed
    noise, normalised per feature."""
    t = torch.arange(frames, dtype=torch.float64)[:, None]
    f = torch.arange(features, dtype=torch.float64)[None, :]
    out = []
    for _ in range(batch):
        phase = torch.rand(4, generator=g, dtype=torch.float64) * 2 * math.pi
        rate = 0.02 + 0.05 * torch.rand(4, generator=g, dtype=torch.float64)
        x = sum(torch.sin(rate[k] * t + phase[k] + 0.3 * (k + 1) * f / features * 2 * math.pi) for k in range(4))
        noise = torch.randn(frames + 4, features, generator=g, dtype=torch.float64)
        x = x + 0.5 * (noise[:-4] + noise[1:-3] + noise[2:-2] + noise[3:-1] + noise[4:]) / 5
        out.append((x - x.mean(0)) / x.std(0))
    return torch.stack(out).float()


def deep_long_model(seed: int = 16) -> tuple:
    g = _seed(seed)
    model = SpeakerEncoder()
    with torch.no_grad():  # a trained model's larger weights and forget-gate biases: long memory
        for name, p in model.lstm.named_parameters():
            if name.startswith("weight"):
                p.mul_(2.0)
            if name.startswith("bias_ih"):
                p[256:512] += 2.0
    return model, (speech_like(300, 40, 2, g),)


def deep_long(out: Path) -> ZooResult:
    model, args = deep_long_model()
    return ZooResult([_export(model, args, out)], "lstm", [["lstm"]])


ZOO: Dict[str, Callable[[Path], ZooResult]] = {
    "dropout_prenet": dropout_prenet,
    "init_hidden": init_hidden,
    "float_in_forward": float_in_forward,
    "apply_none": apply_none,
    "data_parallel": data_parallel,
    "weight_norm_lstm": weight_norm_lstm,
    "weight_norm_gru": weight_norm_gru,
    "scripted": scripted,
    "traced": traced,
    "half": half,
    "bfloat16": bfloat16,
    "packed": packed,
    "keywords": keywords,
    "cell_loop": cell_loop,
    "called_twice": called_twice,
    "deep_long": deep_long,
}
