"""Small, seeded models of the kinds people ship, for tools/make_golden_fixtures.py: each builder
returns (model, args) with the model's weights drawn from a fixed seed, ready for
ptload_golden.export (python/). Needs torch. The exporter's own zoo of troublesome models
(dropout in eval, casts in forward, TorchScript, DataParallel) is python/tests/zoo.py."""
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class SeedClassifier(nn.Module):
    """The seeds' classifier: Embedding → RNN → Linear on the last time step."""

    def __init__(self, vocab=20, embed=8, hidden=12, classes=3):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.rnn = nn.RNN(embed, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, tokens):
        out, h_n = self.rnn(self.embedding(tokens))
        return self.fc(out[:, -1, :])


class Seq2Seq(nn.Module):
    """A bidirectional LSTM encoder over packed, unsorted sequences and a GRUCell decoder called
    in a loop, fed its own previous output, then a Linear."""

    def __init__(self, vocab=16, embed=6, hidden=8, steps=5):
        super().__init__()
        self.steps = steps
        self.embedding = nn.Embedding(vocab, embed)
        self.encoder = nn.LSTM(embed, hidden, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.GRUCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens, lengths):
        packed = pack_padded_sequence(self.embedding(tokens), lengths, enforce_sorted=False)
        encoded, (h_n, c_n) = self.encoder(packed)
        encoded, _ = pad_packed_sequence(encoded)
        h = torch.tanh(self.bridge(torch.cat([h_n[-2], h_n[-1]], dim=1)))
        x = torch.tanh(self.bridge(encoded.mean(dim=0)))
        logits = []
        for _ in range(self.steps):
            h = self.decoder(x, h)
            logits.append(self.out(h))
            x = h
        return torch.stack(logits)


class CRNN(nn.Module):
    """A Conv1d front end over features, a 2-layer batch_first LSTM, a Linear per frame."""

    def __init__(self, features=10, channels=12, hidden=10, classes=5):
        super().__init__()
        self.conv = nn.Conv1d(features, channels, kernel_size=3, padding=1)
        self.lstm = nn.LSTM(channels, hidden, num_layers=2, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):  # x: [N, T, features]
        y = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)
        out, _ = self.lstm(y)
        return self.fc(out)


class Projected(nn.Module):
    """A 2-layer LSTM with proj_size, given an initial state."""

    def __init__(self, features=7, hidden=12, proj=5):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=2, proj_size=proj)

    def forward(self, x, h0, c0):
        out, _ = self.lstm(x, (h0, c0))
        return out


class DeepLong(nn.Module):
    """A speaker-encoder-like 3-layer LSTM over 160 frames: long and deep enough that PyTorch's
    own float32 result drifts from the exact one, hence the float64 truths."""

    def __init__(self, features=40, hidden=64):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=3, batch_first=True)
        self.linear = nn.Linear(hidden, 32)

    def forward(self, frames):
        out, (h_n, _) = self.lstm(frames)
        return torch.relu(self.linear(h_n[-1]))


class HalfTagger(nn.Module):
    """Embedding → LSTM → Linear in float16: the inputs and PyTorch's own results are float16,
    the truths float64 from the same float16 weights."""

    def __init__(self, vocab=12, embed=6, hidden=8, tags=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden)
        self.tag = nn.Linear(hidden, tags)

    def forward(self, tokens):
        return self.tag(self.lstm(self.embed(tokens))[0])


class BFloat16GRU(nn.Module):
    """A batch_first GRU given an initial state, then a GRUCell, in bfloat16 (inputs stored
    widened to float32, exactly)."""

    def __init__(self, features=5, hidden=6):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.cell = nn.GRUCell(hidden, hidden)

    def forward(self, x, h0):
        out, h = self.gru(x, h0)
        return self.cell(out[:, -1], h[0])


class WeightNormed(nn.Module):
    """Both weight norms: torch.nn.utils.weight_norm on an LSTM (keys weight_hh_l0_g/_v) and
    parametrizations.weight_norm on a GRU (parametrizations.weight_ih_l0.original0/1)."""

    def __init__(self, features=4, hidden=6):
        super().__init__()
        lstm = nn.LSTM(features, hidden)
        lstm = torch.nn.utils.weight_norm(lstm, "weight_ih_l0")
        self.lstm = torch.nn.utils.weight_norm(lstm, "weight_hh_l0")
        gru = nn.GRU(hidden, hidden)
        gru = torch.nn.utils.parametrizations.weight_norm(gru, "weight_ih_l0")
        self.gru = torch.nn.utils.parametrizations.weight_norm(gru, "weight_hh_l0")

    def forward(self, x):
        return self.gru(self.lstm(x)[0])[0]


def _seeded(seed, build):
    torch.manual_seed(seed)
    return build()


def seed_classifier():
    model = _seeded(1, SeedClassifier)
    tokens = torch.randint(0, 20, (3, 7), generator=torch.Generator().manual_seed(11))
    return model, (tokens,)


def seq2seq():
    model = _seeded(2, Seq2Seq)
    tokens = torch.randint(1, 16, (6, 4), generator=torch.Generator().manual_seed(12))
    lengths = torch.tensor([4, 6, 2, 5])
    for b, n in enumerate(lengths.tolist()):
        tokens[n:, b] = 0
    return model, (tokens, lengths)


def crnn():
    model = _seeded(3, CRNN)
    x = torch.randn(2, 9, 10, generator=torch.Generator().manual_seed(13))
    return model, (x,)


def projected():
    model = _seeded(4, Projected)
    g = torch.Generator().manual_seed(14)
    x = torch.randn(6, 3, 7, generator=g)
    h0 = torch.randn(2, 3, 5, generator=g) * 0.5
    c0 = torch.randn(2, 3, 12, generator=g) * 0.5
    return model, (x, h0, c0)


def deep_long():
    model = _seeded(5, DeepLong)
    # Larger weights than the default init, as trained models have: saturation and drift.
    with torch.no_grad():
        for name, p in model.lstm.named_parameters():
            if name.startswith("weight"):
                p.mul_(3.0)
    frames = torch.randn(2, 160, 40, generator=torch.Generator().manual_seed(15))
    return model, (frames,)


def half_tagger():
    model = _seeded(6, HalfTagger).half()
    tokens = torch.randint(0, 12, (7, 3), generator=torch.Generator().manual_seed(16))
    return model, (tokens,)


def bfloat16_gru():
    model = _seeded(7, BFloat16GRU).to(torch.bfloat16)
    g = torch.Generator().manual_seed(17)
    x = torch.randn(2, 6, 5, generator=g).bfloat16()
    h0 = (torch.randn(1, 2, 6, generator=g) * 0.5).bfloat16()
    return model, (x, h0)


def weight_norm():
    model = _seeded(8, WeightNormed)
    with torch.no_grad():  # g away from ‖v‖, so that the norm matters
        model.lstm.weight_hh_l0_g.mul_(1.5)
        model.gru.parametrizations.weight_ih_l0.original0.mul_(0.7)
    x = torch.randn(6, 2, 4, generator=torch.Generator().manual_seed(18))
    return model, (x,)


MODELS = {
    "seed_classifier": seed_classifier,
    "seq2seq": seq2seq,
    "crnn": crnn,
    "projected": projected,
    "deep_long": deep_long,
    "half_tagger": half_tagger,
    "bfloat16_gru": bfloat16_gru,
    "weight_norm": weight_norm,
}
