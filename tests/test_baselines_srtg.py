"""SRTG's temporal gates: the cycle-consistency check fires on consistent sequences only."""

from __future__ import annotations

import torch

from baselines.srtg import SqueezeRecursion, cycle_consistent
from mtbench.registry import create_model

FRAMES, CHANNELS = 5, 6


def distinct_frames(scale: float = 0.9) -> torch.Tensor:
    """(1, C, T, 2, 2): frame t lights channel t only, so frames are far apart."""
    x = torch.zeros(1, CHANNELS, FRAMES, 2, 2)
    for t in range(FRAMES):
        x[0, t, t] = scale
    return x


def identity_like_lstm(sr: SqueezeRecursion) -> None:
    """Input gate and output gate open, forget gate shut, cell input = tanh(x): h_t ~ x_t.

    The LSTM then echoes each frame (shrunk by its tanh squashes), so its output sequence is
    cycle-consistent with the pooled features by construction.
    """
    hidden = sr.lstm.hidden_size
    with torch.no_grad():
        for name, param in sr.lstm.named_parameters():
            param.zero_()
            if name.startswith("weight_ih"):
                param[2 * hidden : 3 * hidden] = torch.eye(hidden)  # gate order i, f, g, o
            if name.startswith("bias_ih"):
                param[:hidden], param[hidden : 2 * hidden], param[3 * hidden :] = 10, -10, 10


def test_cycle_check_on_sequences() -> None:
    u = distinct_frames()[..., 0, 0].transpose(1, 2)  # (1, T, C)
    assert cycle_consistent(u, u).all()
    assert cycle_consistent(u, 0.5 * u).all()
    constant = torch.ones_like(u)
    assert not cycle_consistent(u, constant).any()
    assert not cycle_consistent(constant, u).any()


def test_gate_fires_on_consistent_sequence_and_not_otherwise() -> None:
    sr = SqueezeRecursion(CHANNELS, gates=True)
    identity_like_lstm(sr)
    consistent = distinct_frames()
    static = consistent.mean(dim=2, keepdim=True).expand_as(consistent)  # every frame the same
    x = torch.cat([consistent, static])

    recursed, _ = sr.lstm(x.mean(dim=(3, 4)).permute(2, 0, 1))
    scale = recursed.permute(1, 2, 0)[..., None, None]
    out = sr(x)
    torch.testing.assert_close(out[0], (x * scale)[0])  # gate fired: recalibrated
    torch.testing.assert_close(out[1], x[1])  # not consistent: passed through untouched
    assert not torch.allclose(out[0], x[0])


def test_untrained_lstm_is_gated_off_until_switch_on_epoch() -> None:
    sr = SqueezeRecursion(CHANNELS, gates=True, gate_epoch=3)
    with torch.no_grad():
        for param in sr.lstm.parameters():
            param.zero_()  # h = 0 for every frame: nothing is cycle-consistent
    x = distinct_frames()
    torch.testing.assert_close(sr(x), torch.zeros_like(x))  # before epoch 3: always applied
    sr.epoch = 3
    torch.testing.assert_close(sr(x), x)  # gates on: inconsistent, so left alone


def test_set_epoch_reaches_every_block() -> None:
    with torch.device("meta"):
        model = create_model("srtg-r3d-34", num_classes=5, gates=True, gate_epoch=2)
    model.set_epoch(2)
    blocks = [m for m in model.modules() if isinstance(m, SqueezeRecursion)]
    assert len(blocks) == 16 and all(b.gates_active() for b in blocks)


def test_gates_off_by_default_as_released() -> None:
    with torch.device("meta"):
        model = create_model("srtg-r2plus1d-50", num_classes=5)
    assert not any(m.gates for m in model.modules() if isinstance(m, SqueezeRecursion))
