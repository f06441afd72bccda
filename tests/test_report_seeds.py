"""Trained cells in reports: seeds averaged with their spread, the training curves plot."""

import math

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from mtbench.report.frame import load_stores
from mtbench.report.plots import PlotSkipped, accuracy_vs_gflops, training
from mtbench.report.tables import render
from mtbench.suite.store import append_record


def record(label, seed, top1, group="g1", gflops=5.0, model="r3d-18", family="r3d"):
    curve = [
        {"epoch": e, "lr": 0.1, "loss": 2.0 / e + seed, "train_top1": 10.0 * e} for e in (1, 2)
    ]
    return {
        "suite": "s",
        "cell_key": f"{label}-{seed}",
        "label": f"{label} train.seed={seed}",
        "model": model,
        "family": family,
        "model_kwargs": {},
        "input_shape": [1, 3, 8, 32, 32],
        "params_total": 1e6,
        "gflops": gflops,
        "top1": top1,
        "top5": 100.0,
        "dataset": "synthetic",
        "views": "2x1",
        "seed": seed,
        "seed_group": group,
        "train_curve": curve,
        "status": "ok",
        "error": None,
    }


@pytest.fixture
def store(tmp_path):
    for seed, top1 in enumerate([50.0, 60.0, 70.0]):
        append_record(tmp_path, record("r3d-18", seed, top1))
    append_record(
        tmp_path, record("mtnet-32", 0, 80.0, group="g2", model="mtnet-32", family="mtnet")
    )
    return tmp_path


def test_cells_differing_only_in_seed_become_one_row_with_mean_std_and_n(store):
    (s,) = load_stores(store)
    assert len(s.frame) == 4
    ok = s.ok
    assert list(ok["label"]) == ["r3d-18", "mtnet-32 train.seed=0"]
    r3d = ok.iloc[0]
    assert r3d["top1"] == pytest.approx(60.0)
    assert r3d["top1_std"] == pytest.approx(np.std([50, 60, 70], ddof=1))
    assert r3d["n_seeds"] == 3 and math.isnan(ok.iloc[1]["top1_std"])
    assert [p["loss"] for p in r3d["train_curve"]] == pytest.approx([3.0, 2.0])


def test_tables_show_mean_plus_minus_std_and_n(store):
    md = render(load_stores(store), "md")
    assert "60.000 ± 10.000 (3)" in md
    assert "80.000 " in md and "80.000 ±" not in md
    csv = render(load_stores(store), "csv")
    assert "Top-1 (%) std" in csv.splitlines()[0]


def test_accuracy_plot_draws_one_std_over_seeds_as_error_bars(store):
    fig = accuracy_vs_gflops(load_stores(store)[0].ok)
    bars = [c for ax in fig.axes for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 1
    (segments,) = bars[0].lines[2]
    (x, low), (_, high) = segments.get_segments()[0]
    # mean ± 1 std over the seeds, as the tables print it (the one convention, numbers.py)
    assert (low, high) == pytest.approx((60 - 10, 60 + 10), abs=1e-4)


def test_training_plot_has_one_curve_per_cell(store, tmp_path):
    fig = training(load_stores(store)[0].ok)
    loss_ax = fig.axes[0]
    assert [line.get_label() for line in loss_ax.lines] == ["r3d-18", "mtnet-32 train.seed=0"]
    assert list(loss_ax.lines[1].get_ydata()) == [2.0, 1.0]


def test_training_plot_is_skipped_without_trained_cells(tmp_path):
    r = record("x", 0, 1.0)
    r.update(train_curve=[], top1=None, seed_group=None)
    append_record(tmp_path, r)
    with pytest.raises(PlotSkipped, match="no cell was trained"):
        training(load_stores(tmp_path)[0].ok)
