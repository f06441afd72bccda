"""The traceable GRU / LSTM against torch's own: parameters, outputs, gradients, compiled."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mtbench.models.recurrent import GRU, LSTM, recurrent_outputs
from mtbench.models.sr import SqueezeRecursion

pytestmark = pytest.mark.usefixtures("one_thread")

PAIRS = [(GRU, nn.GRU), (LSTM, nn.LSTM)]


def twins(ours: type, theirs: type, batch_first: bool) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    a = ours(5, 7, 2, batch_first=batch_first).double()
    torch.manual_seed(0)
    b = theirs(5, 7, num_layers=2, batch_first=batch_first).double()
    return a, b


@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_same_parameters_initialisation_and_state_dict_keys(ours, theirs):
    a, b = twins(ours, theirs, batch_first=True)
    assert list(a.state_dict()) == list(b.state_dict())
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(p, q), name
    b.load_state_dict(a.state_dict())  # loads both ways: checkpoints stay interchangeable


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize(("ours", "theirs"), PAIRS)
def test_outputs_states_and_gradients_equal_torch(ours, theirs, batch_first, compiled):
    a, b = twins(ours, theirs, batch_first)
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    run = torch.compile(a, fullgraph=True, backend="eager") if compiled else a
    out_a, state_a = run(xa)
    out_b, state_b = b(xb)
    torch.testing.assert_close(out_a, out_b, rtol=0, atol=1e-12)
    for sa, sb in zip(
        state_a if isinstance(state_a, tuple) else (state_a,),
        state_b if isinstance(state_b, tuple) else (state_b,),
        strict=True,
    ):
        torch.testing.assert_close(sa, sb, rtol=0, atol=1e-12)
    grad = torch.randn_like(out_a)
    (out_a * grad).sum().backward()
    (out_b * grad).sum().backward()
    torch.testing.assert_close(xa.grad, xb.grad, rtol=0, atol=1e-12)
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-12, msg=name)


def test_compiled_cell_runs_unrolled_not_the_fused_kernel():
    gru = GRU(4, 4, 2, batch_first=True)
    explanation = torch._dynamo.explain(gru)(torch.randn(1, 3, 4))
    assert explanation.graph_count == 1 and explanation.graph_break_count == 0
    ops = {str(n.target) for g in explanation.graphs for n in g.graph.nodes}
    assert not any("gru" in op for op in ops), ops


def test_cell_runs_in_its_weights_dtype_under_autocast():
    """Autocast would run the cell in low precision; it runs in float32 and comes back in
    the input's dtype, so the block's fused product never mixes two floating dtypes."""
    torch.manual_seed(0)
    gru = GRU(6, 6, 2, batch_first=True)
    seq = torch.randn(2, 3, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = recurrent_outputs(gru, seq.bfloat16())
    assert low.dtype == torch.bfloat16
    expected = gru(seq.bfloat16().float())[0].bfloat16()
    torch.testing.assert_close(low, expected, rtol=0, atol=0)


def test_squeeze_recursion_weights_come_back_in_the_features_dtype():
    sr = SqueezeRecursion(4)
    x = torch.randn(1, 4, 3, 2, 2, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert sr(x).dtype == torch.bfloat16


def test_block_merges_a_gate_and_a_skip_of_other_dtypes_in_the_features_dtype(monkeypatch):
    """CUDA autocast hands the block a float16 gate (cuDNN's RNN) beside bfloat16 features,
    and `addcmul` raised; on CPU the mix silently promoted to float32. Here the gate comes
    in float16 and the skip in float32: the output must stay in the features' dtype."""
    from mtbench.models.blocks import MTBlock
    from mtbench.models.mtnet import _norm_makers

    norm, grouped = _norm_makers("batch")
    torch.manual_seed(0)
    block = MTBlock(
        16,
        32,
        2,
        r=0.75,
        groups=1,
        norm=norm,
        grouped_norm=grouped,
        lateral_pool="mixed",
        long_temporal="pool",
        sr_cell="gru",
        sr_gate="raw",
        shared_lateral_norm=False,
    ).eval()
    x = (torch.randn(1, 12, 4, 8, 8), torch.randn(1, 4, 2, 4, 4))
    with torch.no_grad():
        reference = block(x)
        sr_forward = SqueezeRecursion.forward
        monkeypatch.setattr(
            SqueezeRecursion, "forward", lambda self, t: sr_forward(self, t.float()).half()
        )
        shortcut = block.shortcut.forward
        monkeypatch.setattr(
            block.shortcut, "forward", lambda s: tuple(t.float() for t in shortcut(s))
        )
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = block(tuple(t.bfloat16() for t in x))
    for got, want in zip(mixed, reference, strict=True):
        assert got.dtype == torch.bfloat16
        torch.testing.assert_close(got.float(), want, rtol=0.1, atol=0.1)
