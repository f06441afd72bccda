"""Where the cost goes: rows that add up to the totals of the same trace, one trace per counter
per cell, per-module FLOPs equal to fvcore's own attribution, profiled time that covers the
forward and finds a slow block, kinds of operator, and the one-line refusals."""

import time

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from ptflops import get_model_complexity_info
from tiny_models import TINY_VIT
from torch import nn

from mtbench.measure import ceilings, flops
from mtbench.measure.breakdown import BreakdownRun
from mtbench.measure.breakdown_count import (
    OUTSIDE_MODULES,
    count_rows,
    default_depth,
    depth_problem,
    rows_at,
)
from mtbench.measure.breakdown_rows import derived_rows
from mtbench.measure.breakdown_time import attribute, profiled_step
from mtbench.measure.execution import pytorch_executor
from mtbench.measure.flops import FVCORE_HANDLES, ZERO_COST_OPS, count_flops, ptflops_hooks
from mtbench.measure.latency import forward_step
from mtbench.measure.opkinds import op_kind
from mtbench.measure.profile import profile
from mtbench.options import ProfileOptions
from mtbench.registry import create_model, list_models, model_entry

SMALL = [1, 3, 4, 32, 32]
# Families whose models take no small clip: built small through their keyword arguments.
SMALL_KWARGS = {"videomae": TINY_VIT, "timesformer": TINY_VIT, "vivit": TINY_VIT}
TINY_SHAPE = [1, 3, 4, 16, 16]
HEAVY = {"mvit"}  # 16x224x224 only: the registry benchmark covers it
# s3d's last pooling window outgrows a 4x32x32 clip (check_input refuses it): its smallest.
SHAPES = {"s3d": [1, 3, 8, 64, 64]}
SMALLEST = {
    "r3d": "r3d-18",
    "r2plus1d": "r2plus1d-18",
    "mtnet": "mtnet-32",
    "x3d": "x3d-xs",
    "swin3d": "swin3d-t",
    "csn": "ircsn-50",
    "srtg": "srtg-r3d-34",
    "slowfast": "slowfast-r50",
}


def _build(name: str) -> tuple[nn.Module, list[int]]:
    family = model_entry(name).family
    torch.manual_seed(0)
    if family in SMALL_KWARGS:
        return create_model(name, **SMALL_KWARGS[family]), TINY_SHAPE
    return create_model(name, num_classes=10), SHAPES.get(name, SMALL)


def one_per_family() -> list[str]:
    chosen: dict[str, str] = {}
    for name in list_models():
        if model_entry(name).origin == "built-in":  # not the models other test files register
            chosen.setdefault(model_entry(name).family, name)
    chosen.update({k: v for k, v in SMALLEST.items() if k in chosen})
    return [n for f, n in sorted(chosen.items()) if f not in HEAVY]


@pytest.mark.parametrize("name", one_per_family())
def test_rows_add_up_to_the_totals_and_params(name, one_thread):
    model, shape = _build(name)
    rows = rows_at(model, default_depth(model))
    counts = count_rows(model, shape, rows, True, 1)
    reference = count_flops(model, shape)
    # The totals are the record's (an independent count agrees); the rows plus the outside row
    # add up to them exactly.
    assert counts.flops.gflops == pytest.approx(reference.gflops, rel=1e-12)
    assert counts.flops.gflops_ptflops == pytest.approx(reference.gflops_ptflops, rel=1e-12)
    assert sum(p.numel() for p in model.parameters()) == counts.params_total
    outside = counts.fvcore_total - sum(counts.fvcore.values())
    assert 0 <= outside <= 0.05 * counts.fvcore_total, (name, outside, counts.fvcore_total)
    # Params outside the rows are exactly those held by the modules above them (a class token).
    above = [
        m
        for p, m in model.named_modules()
        if not any(p == r or p.startswith(f"{r}.") for r in rows)
    ]
    held = sum(p.numel() for m in above for p in m.parameters(recurse=False))
    assert counts.params_total - sum(counts.params.values()) == held
    # Kinds of operator add up too.
    assert sum(k[0] for k in counts.kinds.values()) == counts.fvcore_total


@pytest.mark.parametrize("name", ["r3d-18", "mtnet-32"])
def test_rows_sum_exactly_to_the_totals_of_the_same_count(name, one_thread):
    """r3d-18 and a small MTNet at a tiny clip: the record's totals are the integers of the
    traces that gave the rows, and rows plus the outside row give them back exactly."""
    model, shape = _build(name)
    run = BreakdownRun(model, None, shape, torch.float32)
    run.count(model, True)
    counts = run.counts
    assert run.flops.gflops == counts.fvcore_total / 1e9
    assert run.flops.gflops_ptflops == counts.ptflops_total / 1e9
    outside = counts.fvcore_total - sum(counts.fvcore.values())
    assert outside >= 0 and sum(counts.fvcore.values()) + outside == counts.fvcore_total
    assert sum(fv for fv, _ in counts.kinds.values()) == counts.fvcore_total
    assert sum(run.flops.by_operator.values()) == pytest.approx(run.flops.gflops, rel=1e-12)
    # What the record stores: rows rounded to 4 digits; ptflops' column empty, its total the
    # record's gflops_ptflops.
    stored = run.as_record({})
    gflops, ptflops = (stored["module_columns"].index(c) for c in ("gflops", "gflops_ptflops"))
    assert sum(r[gflops] for r in stored["modules"]) == pytest.approx(run.flops.gflops, rel=1e-3)
    assert {r[ptflops] for r in stored["modules"]} == {None}
    assert {r[2] for r in stored["ops"]} == {None}


@pytest.mark.parametrize("name", ["r3d-18", "mtnet-32", "x3d-s", "swin3d-t"])
def test_module_flops_are_fvcores_own_attribution_and_the_total_ptflops_own(name, one_thread):
    model, shape = _build(name)
    rows = rows_at(model, default_depth(model))
    counts = count_rows(model, shape, rows, True, 1)
    x = torch.randn(shape)
    with torch.no_grad():
        analysis = FlopCountAnalysis(model.eval(), x)
        analysis.set_op_handle(**FVCORE_HANDLES, **dict.fromkeys(ZERO_COST_OPS))
        analysis.unsupported_ops_warnings(False)
        fvcore_own = analysis.by_module()
        macs, _ = get_model_complexity_info(
            model,
            tuple(shape[1:]),
            print_per_layer_stat=False,
            as_strings=False,
            custom_modules_hooks=ptflops_hooks(True),
            backend="aten",
        )
    assert {r: counts.fvcore[r] for r in rows} == {r: fvcore_own[r] for r in rows}
    assert counts.fvcore_total == analysis.total()
    assert counts.ptflops_total == macs


def test_a_breakdown_cell_traces_each_counter_once(monkeypatch, tmp_path, one_thread):
    """`profile` with flops and a breakdown: one fvcore analysis and one ptflops count give the
    record's totals and the rows; the model is left without ptflops' module hooks."""
    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path / "ceilings"))
    measured = {"gemm_gflops": 50.0, "conv3d_gflops": 60.0, "copy_gbs": 10.0, "add_gbs": 12.0}
    monkeypatch.setattr(
        ceilings, "measure_figure", lambda name, *a: ceilings.Measured(measured[name], "clean")
    )
    calls = {"fvcore": 0, "ptflops": 0}

    class Counted(FlopCountAnalysis):
        def __init__(self, *args, **kwargs):
            calls["fvcore"] += 1
            super().__init__(*args, **kwargs)

    def counted(*args, **kwargs):
        calls["ptflops"] += 1
        return get_model_complexity_info(*args, **kwargs)

    monkeypatch.setattr(flops, "FlopCountAnalysis", Counted)
    monkeypatch.setattr(flops, "get_model_complexity_info", counted)
    model, shape = _build("r3d-18")
    options = ProfileOptions(
        device="cpu", measure=("flops", "breakdown"), warmup=0, repeats=1, threads=1
    )
    record = profile("r3d-18", {"num_classes": 10}, shape, options, model=model)
    assert calls == {"fvcore": 1, "ptflops": 1}
    assert record["breakdown"]["error"] is None
    reference = count_flops(model, shape)
    assert record["gflops"] == pytest.approx(reference.gflops, rel=1e-12)
    assert record["gflops_ptflops"] == pytest.approx(reference.gflops_ptflops, rel=1e-12)
    assert record["flops_rel_diff"] == pytest.approx(reference.rel_diff, abs=1e-12)
    assert record["flops_skipped_ops"] == reference.skipped_ops == []
    hooked = [m for m in model.modules() if m._forward_hooks or m._forward_pre_hooks]
    assert hooked == []


def test_depths_default_to_stages_and_blocks():
    with torch.device("meta"):
        r3d, mtnet, x3d = (create_model(n) for n in ("r3d-18", "mtnet-32", "x3d-s"))
    assert rows_at(r3d, default_depth(r3d))[:5] == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert "blocks.3" in rows_at(mtnet, default_depth(mtnet))
    assert rows_at(x3d, default_depth(x3d)) == [f"blocks.{i}" for i in range(6)]
    # Leaves above the depth stay rows: r3d-18's fc at depth 2.
    assert "fc" in rows_at(r3d, 2) and "layer1.0" in rows_at(r3d, 2)
    assert rows_at(r3d, 0) == [""]
    assert depth_problem(r3d, 4) is None
    why = depth_problem(r3d, 9)
    assert "no modules at depth 9" in why and "depths 0-4" in why and "layer1" in why


def _forward_times(model: nn.Module, shape: list[int], depth: int):
    rows = rows_at(model, depth)
    x = torch.randn(shape)
    model.eval()
    events = profiled_step(forward_step(model, x), model, rows, x.device)
    return attribute(events, shape[0], device_time=False)


@pytest.mark.slow
@pytest.mark.serial
@pytest.mark.parametrize("name", ["r3d-18", "mtnet-32"])
def test_module_rows_cover_the_profiled_forward(name, one_thread):
    model, shape = _build(name)
    times = _forward_times(model, shape, default_depth(model))
    assert sum(times.rows.values()) >= 0.9 * times.total
    assert sum(times.kinds.values()) <= times.total * 1.001


class Busy(nn.Module):
    """A block that works 50 ms of this thread's CPU time (no sleep: it computes, as a slow
    layer does, however loaded the machine)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = time.thread_time()
        while time.thread_time() - start < 0.05:
            pass
        return x * 2


@pytest.mark.serial
def test_a_slow_block_takes_the_largest_share(one_thread):
    model = nn.Sequential(
        nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.ReLU()),
        nn.Sequential(nn.Conv3d(8, 8, 3, padding=1), Busy()),
        nn.Sequential(nn.Conv3d(8, 8, 3, padding=1), nn.ReLU()),
    )
    times = _forward_times(model, [1, 3, 4, 16, 16], 1)
    assert max(times.rows, key=times.rows.get) == "1"
    assert times.rows["1"] >= 50


def test_kinds_of_operator():
    assert op_kind("aten::conv3d") == "dense conv"
    assert op_kind("conv", groups=8) == "grouped conv"
    assert op_kind("aten.convolution.default", groups=64) == "grouped conv"
    assert op_kind("addmm") == op_kind("aten::linear") == "linear/matmul"
    assert op_kind("aten::_scaled_dot_product_flash_attention_for_cpu") == "attention"
    assert op_kind("aten::gru") == op_kind("mkldnn_rnn_layer") == "recurrent"
    assert op_kind("aten::avg_pool3d") == op_kind("aten::mean") == "pooling"
    assert op_kind("native_batch_norm") == op_kind("aten::layer_norm") == "normalisation"
    assert op_kind("aten::add_") == op_kind("aten::sigmoid") == "elementwise"
    assert op_kind("aten::permute") == op_kind("aten::cat") == "data movement"
    assert op_kind("aten::constant_pad_nd") == op_kind("aten::copy_") == "data movement"
    assert op_kind("aten::some_new_op") == "other"


def test_grouped_convs_and_recurrent_cells_are_their_kinds(one_thread):
    model, shape = _build("x3d-xs")
    counts = count_rows(model, shape, rows_at(model, 2), True, 1)
    convs = sum(n for op, n in counts.flops.by_operator.items() if "conv" in op) * 1e9
    grouped, dense = counts.kinds["grouped conv"][0], counts.kinds["dense conv"][0]
    assert grouped > 0 and dense > 0 and grouped + dense == pytest.approx(convs, rel=1e-12)
    mtnet, shape = _build("mtnet-32")
    counts = count_rows(mtnet, shape, rows_at(mtnet, 2), True, 1)
    fv, moved = counts.kinds["recurrent"]
    assert fv == pytest.approx(counts.flops.by_operator["gru"] * 1e9, rel=1e-12) and moved > 0


@pytest.mark.serial
def test_record_rows_and_derived_columns(one_thread):
    model, shape = _build("r3d-18")
    run = BreakdownRun(model, None, shape, torch.float32)
    run.count(model, True)
    eager = pytorch_executor(model, shape, ProfileOptions(), ["latency_fwd"], eager=True)
    run.time(model, eager, {}, warmup=0, repeats=1)
    out = run.as_record({})
    assert out["error"] is None and out["depth"] == 1
    names = [r[0] for r in out["modules"]]
    assert names[:2] == ["stem", "layer1"]
    fwd = out["module_columns"].index("fwd_ms")
    assert sum(r[fwd] for r in out["modules"]) == pytest.approx(out["fwd_ms"], rel=0.01)
    ceilings = {"gemm_gflops": 100.0, "conv3d_gflops": 50.0, "copy_gbs": 10.0, "add_gbs": 5.0}
    rows = derived_rows(out, "module", ceilings)
    layer1 = rows[1]
    assert layer1["gflop_s"] == pytest.approx(layer1["gflops"] / layer1["fwd_ms"] * 1e3)
    assert layer1["intensity"] == pytest.approx(layer1["gflops"] * 1e9 / (layer1["moved_mb"] * 1e6))
    ridge = 100.0 / 10.0  # FLOPs per byte where the two roofs meet
    assert layer1["bound"] == ("compute" if layer1["intensity"] >= ridge else "memory")
    assert sum(r["share"] for r in rows) == pytest.approx(1.0, rel=0.01)
    assert rows[-1]["module"] == OUTSIDE_MODULES or names[-1] == "fc"


def test_bytes_moved_follow_the_convention():
    """A linear layer at batch 4: it reads its input and, once per batch, its weight (through
    the transposed view `addmm` gets) and bias, and writes its output; per clip."""
    model = nn.Sequential(nn.Linear(16, 8))
    counts = count_rows(model, [4, 16], ["0"], True, batch=4)
    assert counts.moved["0"] == 16 + (16 * 8 + 8) / 4 + 8
    assert counts.kinds["linear/matmul"][1] == counts.moved["0"]


@pytest.mark.serial
def test_backward_time_goes_to_the_rows_whose_forward_made_it(one_thread):
    model = nn.Sequential(
        nn.Sequential(nn.Conv3d(3, 32, 3, padding=1), nn.BatchNorm3d(32), nn.ReLU()),
        nn.Sequential(nn.Conv3d(32, 32, 3, padding=1), nn.ReLU()),
        nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(32, 4)),
    )
    shape = [2, 3, 8, 32, 32]
    run = BreakdownRun(model, 1, shape, torch.float32)
    run.count(model, True)
    eager = pytorch_executor(model, shape, ProfileOptions(), eager=True)
    run.time(model, eager, {}, warmup=0, repeats=1)
    out = run.as_record({})
    assert out["error"] is None
    rows = {r["module"]: r for r in derived_rows(out, "module", None)}
    # A conv that needs its input's gradient costs about twice its forward in backward.
    assert rows["1"]["fwdbwd_ms"] > 1.5 * rows["1"]["fwd_ms"] > 0
    covered = sum(r["fwdbwd_ms"] for n, r in rows.items() if n in ("0", "1", "2"))
    assert covered >= 0.5 * out["fwdbwd_ms"]
    kinds = {r["kind"]: r for r in derived_rows(out, "op", None)}
    assert kinds["dense conv"]["fwdbwd_ms"] > kinds["dense conv"]["fwd_ms"]
