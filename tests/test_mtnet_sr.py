"""Squeeze and Recursion against a hand-written two-layer GRU recurrence (paper eq. 4)."""

from __future__ import annotations

import pytest
import torch

from mtbench.models.sr import SqueezeRecursion

pytestmark = pytest.mark.usefixtures("one_thread")


def gru_by_hand(gru: torch.nn.GRU, seq: torch.Tensor) -> torch.Tensor:
    """Frame by frame: r, z gates, candidate n, h = (1 - z) n + z h_prev (PyTorch's GRU form,
    the reset gate applied to W_hn h + b_hn)."""
    for layer in range(gru.num_layers):
        w_ih, w_hh = getattr(gru, f"weight_ih_l{layer}"), getattr(gru, f"weight_hh_l{layer}")
        b_ih, b_hh = getattr(gru, f"bias_ih_l{layer}"), getattr(gru, f"bias_hh_l{layer}")
        h = seq.new_zeros(seq.shape[0], gru.hidden_size)
        outputs = []
        for t in range(seq.shape[1]):
            gi = seq[:, t] @ w_ih.T + b_ih
            gh = h @ w_hh.T + b_hh
            r = torch.sigmoid(gi[:, : gru.hidden_size] + gh[:, : gru.hidden_size])
            z = torch.sigmoid(
                gi[:, gru.hidden_size : 2 * gru.hidden_size]
                + gh[:, gru.hidden_size : 2 * gru.hidden_size]
            )
            n = torch.tanh(gi[:, 2 * gru.hidden_size :] + r * gh[:, 2 * gru.hidden_size :])
            h = (1 - z) * n + z * h
            outputs.append(h)
        seq = torch.stack(outputs, dim=1)
    return seq


def test_gru_cell_equals_hand_written_recurrence():
    torch.manual_seed(0)
    sr = SqueezeRecursion(5).double()
    x = torch.randn(2, 5, 4, 3, 3, dtype=torch.float64)
    squeezed = x.mean(dim=(3, 4)).transpose(1, 2)  # (B, T, C): per-frame spatial average
    expected = gru_by_hand(sr.cell, squeezed).transpose(1, 2)[..., None, None]
    weights = sr(x)
    assert weights.shape == (2, 5, 4, 1, 1)
    torch.testing.assert_close(weights, expected, rtol=0, atol=1e-12)
    # Recalibration: each frame's features times its GRU output (raw, in (-1, 1)).
    assert (weights.abs() < 1).all()


def test_sigmoid_gate_and_lstm():
    torch.manual_seed(0)
    x = torch.randn(1, 6, 3, 2, 2)
    raw = SqueezeRecursion(6)
    gated = SqueezeRecursion(6, gate="sigmoid")
    gated.load_state_dict(raw.state_dict())
    torch.testing.assert_close(gated(x), torch.sigmoid(raw(x)))
    assert SqueezeRecursion(6, cell="lstm")(x).shape == (1, 6, 3, 1, 1)
