"""GRU and LSTM that torch.compile traces whole, for the Squeeze-and-Recursion cells.

Dynamo refuses to trace `nn.GRU` / `nn.LSTM` (every isinstance of them is a graph break),
so a compiled MTNet or SRTG fell back to eager at every cell. `GRU` and `LSTM` here are the
same `nn.RNNBase` underneath, with the same parameters, initialisation and state_dict keys
(`weight_ih_l0`, ...), and the same call: `(output, h_n)` / `(output, (h_n, c_n))` from a
zero initial state. In eager mode they run the same fused kernel (`torch.gru` /
`torch.lstm` on the cuDNN-flattened weights), so FLOP counters still see `aten::gru` /
`aten::lstm`; under compilation they run the recurrence unrolled over the (static) frame
count: every frame's input projection in one matrix product per layer, then one small
product and the gate arithmetic per frame, which the compiler fuses. Exported (torch.export,
as `torch.onnx.export(dynamo=True)` does), they keep the fused kernel, which the ONNX exporter
writes as one ONNX `GRU` / `LSTM` operator.

The Squeeze-and-Recursion modules call them through `recurrent_outputs`, which runs the cell
in its weights' dtype with autocast off and returns the input's dtype: CUDA autocast runs
cuDNN's RNN in float16 whatever autocast's dtype is, and a float16 gate meeting bfloat16
features in one fused op (`addcmul`) was the autocast crash of issue 11; the cell is a few
(B, T, C) products, too small for low precision to pay.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Devices with autocast: torch.autocast refuses the others (meta, for shapes).
AUTOCAST = ("cpu", "cuda")


def _gru_step(gates: Tensor, hidden_gates: Tensor, state: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    """PyTorch's GRU: gates r, z, n; the reset gate multiplies W_hn h + b_hn."""
    (h,) = state
    i_r, i_z, i_n = gates.chunk(3, dim=-1)
    h_r, h_z, h_n = hidden_gates.chunk(3, dim=-1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return (torch.lerp(n, h, z),)  # (1 - z) n + z h


def _lstm_step(
    gates: Tensor, hidden_gates: Tensor, state: tuple[Tensor, ...]
) -> tuple[Tensor, ...]:
    """PyTorch's LSTM: gates i, f, g, o; c = f c + i g, h = o tanh(c)."""
    _, c = state
    i, f, g, o = (gates + hidden_gates).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class _Recurrence(nn.RNNBase):
    """A stacked unidirectional cell with biases and no dropout, as Squeeze and Recursion
    builds them; `mode` is "GRU" or "LSTM"."""

    def _zero_state(self, x: Tensor) -> tuple[Tensor, ...]:
        batch = x.shape[0] if self.batch_first else x.shape[1]
        zeros = x.new_zeros(self.num_layers, batch, self.hidden_size)
        return (zeros,) if self.mode == "GRU" else (zeros, zeros)

    def _fused(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        state = self._zero_state(x)
        kernel, hx = (torch.gru, state[0]) if self.mode == "GRU" else (torch.lstm, state)
        out, *final = kernel(
            x,
            hx,
            self._flat_weights,
            True,
            self.num_layers,
            0.0,
            self.training,
            False,
            self.batch_first,
        )
        return out, tuple(final)

    def _unrolled(self, x: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        step = _gru_step if self.mode == "GRU" else _lstm_step
        seq = x if self.batch_first else x.transpose(0, 1)  # (B, T, C)
        finals = []
        for layer in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._flat_weights[4 * layer : 4 * layer + 4]
            gates = F.linear(seq, w_ih, b_ih)  # every frame's input projection at once
            state = tuple(s[layer] for s in self._zero_state(x))
            outputs = []
            for t in range(seq.shape[1]):
                state = step(gates[:, t], F.linear(state[0], w_hh, b_hh), state)
                outputs.append(state[0])
            seq = torch.stack(outputs, dim=1)
            finals.append(state)
        out = seq if self.batch_first else seq.transpose(0, 1)
        return out, tuple(torch.stack(s, dim=0) for s in zip(*finals, strict=True))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        """`(output, h_n)` for a GRU, `(output, (h_n, c_n))` for an LSTM, from zero state."""
        # torch.export (the ONNX exporter's tracer) also counts as compiling; there the fused
        # kernel is kept so that the ONNX file holds one GRU / LSTM operator, not the unrolling.
        unroll = torch.compiler.is_compiling() and not torch.compiler.is_exporting()
        out, state = self._unrolled(x) if unroll else self._fused(x)
        return out, state[0] if self.mode == "GRU" else state


class GRU(_Recurrence):
    """`nn.GRU(input_size, hidden_size, num_layers, batch_first=...)`, traceable."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = False
    ) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, batch_first=batch_first)


class LSTM(_Recurrence):
    """`nn.LSTM(input_size, hidden_size, num_layers, batch_first=...)`, traceable."""

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, batch_first: bool = False
    ) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, batch_first=batch_first)


def recurrent_outputs(cell: GRU | LSTM, seq: Tensor) -> Tensor:
    """The cell's output sequence, run in its weights' dtype with autocast off and returned
    in `seq`'s dtype (see the module docstring for why)."""
    device = seq.device.type
    no_autocast = torch.autocast(device, enabled=False) if device in AUTOCAST else nullcontext()
    with no_autocast:
        out, _ = cell(seq.to(cell.weight_ih_l0.dtype))
    return out.to(seq.dtype)
