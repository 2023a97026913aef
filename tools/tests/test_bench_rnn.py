"""ptload_tools.bench.rnn's repeat count: a row whose pass is short gets runs spanning SPAN_S, the
same count for every runtime; never fewer than --repeat, never more than 2,001."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from ptload_tools.bench import rnn


@pytest.mark.parametrize("rough, expected", [
    (0.2e-3, 1500),   # lstm_small_b1's pass: 0.3 s of runs
    (20e-3, 15),      # gru_b1's
    (1.0, 11),        # a long pass keeps --repeat
    (1e-7, 2001),     # capped
])
def test_repeats_span_the_time_the_rough_pass_gives(monkeypatch: pytest.MonkeyPatch, rough: float,
                                                    expected: int) -> None:
    calls = []

    def fake_median_time(fn: Callable[[], Any], repeat: int, warmup: int = 2) -> float:
        fn()
        calls.append((repeat, warmup))
        return rough

    monkeypatch.setattr(rnn, "median_time", fake_median_time)
    module = torch.nn.LSTM(2, 3)
    assert rnn.repeats_for(module, torch.zeros(1, 1, 2), 11) == expected
    assert calls == [(3, 1)]


def test_the_span_is_what_the_docstring_says() -> None:
    assert rnn.SPAN_S == 0.3
    assert "0.3 s" in (rnn.__doc__ or "")
