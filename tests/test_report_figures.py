"""Figures that say what they show: one look per family across a report, error bars and bands
named in the figure, nothing drawn or listed that was not measured, no text cut or crossed."""

import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.text import Annotation, Text

from mtbench.report.build import build_plots, report_styles
from mtbench.report.frame import load_stores
from mtbench.report.html import cells_and_runs
from mtbench.report.plots import (
    PLOTS,
    accuracy_vs_gflops,
    complexity,
    latency_bars,
    training,
)
from mtbench.report.style import figure, place_labels, styled
from mtbench.report.tables import summary_table
from mtbench.suite.store import append_record

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def trained(label, seed, top1, family, model, classes=10):
    curve = [{"epoch": e, "loss": 2.0 / e + seed, "train_top1": 10.0 * e + seed} for e in (1, 2)]
    return {
        "suite": "train",
        "cell_key": f"{label}-{seed}",
        "label": f"{label} train.seed={seed}",
        "model": model,
        "family": family,
        "model_kwargs": {},
        "input_shape": [1, 3, 8, 32, 32],
        "params_total": 1e6,
        "gflops": 5.0 if family == "r3d" else 2.0,
        "top1": top1,
        "top5": 100.0,
        "dataset": "synthetic",
        "views": "1x1",
        "seed": seed,
        "seed_group": label,
        "num_classes": classes,
        "train_curve": curve,
        "latency_fwd_ms": {"median": 10.0, "p10": 9.0, "p90": 11.0},
        "status": "ok",
    }


@pytest.fixture
def train_store(tmp_path):
    """r3d-18 over three seeds, then mtnet-32 over three: r3d appears first in the store."""
    folder = tmp_path / "reports" / "train"
    for seed in range(3):
        append_record(folder, trained("r3d-18", seed, 30.0 + seed, "r3d", "r3d-18"))
    for seed in range(3):
        append_record(folder, trained("mtnet-32", seed, 40.0 + seed, "mtnet", "mtnet-32"))
    return folder


def colours_of(fig):
    """label -> hex colour of the loss curves; family -> hex colour of the scatter markers."""
    lines = {line.get_label(): to_hex(line.get_color()) for line in fig.axes[0].lines}
    return {k: v for k, v in lines.items() if not k.startswith("_")}


def test_a_family_has_one_colour_in_the_curves_and_in_the_scatters(train_store):
    (store,) = load_stores(train_store)
    styles = report_styles([store])
    curves = colours_of(training(store.ok, styles=styles))
    scatter = accuracy_vs_gflops(store.ok, styles=styles)
    dots = {
        c.get_label(): to_hex(c.get_facecolor()[0])
        for c in scatter.axes[0].collections
        if c.get_label() in ("r3d", "mtnet")
    }
    assert curves["r3d-18"] == dots["r3d"] and curves["mtnet-32"] == dots["mtnet"]
    assert dots["r3d"] != dots["mtnet"]


def test_styles_are_assigned_once_per_report_across_stores(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    stores = load_stores(tmp_path / "reports")
    styles = report_styles(stores)
    baselines = next(s for s in stores if s.suite == "baselines")
    alone = report_styles([baselines])
    family = baselines.ok["family"].iloc[0]
    # alone, the baselines' family would take the first colour; in the report, MTNet has it
    assert styles[family] != alone[family] and styles["mtnet"] == alone[family]
    fig = latency_bars(baselines.ok, styles=styles)
    forward = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)][0]
    assert to_hex(forward.patches[0].get_facecolor()) == styles[family][0].lower()


def test_training_curves_over_seeds_are_a_mean_with_a_band_and_say_so(train_store):
    fig = training(load_stores(train_store)[0].ok)
    loss = fig.axes[0]
    r3d = next(line for line in loss.lines if line.get_label() == "r3d-18")
    assert list(r3d.get_ydata()) == pytest.approx([3.0, 2.0])  # mean of seeds 0, 1, 2
    band = [c for c in loss.collections if isinstance(c, PolyCollection)][0]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(2.0 - 1.0) and ys.max() == pytest.approx(3.0 + 1.0)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "band: mean ± 1 std over seeds (3 seeds)" in legend  # the one seed convention


def test_accuracy_figure_names_its_error_bars_and_draws_chance(train_store):
    fig = accuracy_vs_gflops(load_stores(train_store)[0].ok)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "bars: mean ± 1 std over seeds (3 seeds)" in legend  # as the tables print it
    assert "chance: 1/10 = 10%" in legend
    dashed = [line for line in fig.axes[0].lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == [10.0]


def test_an_unmeasured_pass_has_no_bars_and_no_legend_entry(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    frame = next(s for s in load_stores(tmp_path / "reports") if s.suite == "baselines").ok
    fig = latency_bars(frame.assign(latency_fwdbwd_ms=np.nan))
    assert len([c for c in fig.axes[0].containers if isinstance(c, BarContainer)]) == 1
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "forward (F)" in legend and not any("backward" in t for t in legend)


def test_cell_counts_say_runs_when_seeds_were_run(train_store):
    assert cells_and_runs(load_stores(train_store)[0].ok) == "2 cells, 6 runs"
    html = build_plots(train_store.parent, ["training"], ["png"])[2].read_text()
    assert "2 cells, 6 runs" in html


def test_no_text_is_cut_at_the_figure_edge(tmp_path, train_store):
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    frames = [s.ok for s in load_stores(tmp_path / "fixtures")] + [load_stores(train_store)[0].ok]
    for frame in frames:
        for name, draw in PLOTS.items():
            try:
                drawn = draw(frame, False)
            except Exception:  # noqa: BLE001  (skipped plots: tested elsewhere)
                continue
            for _, fig in drawn if isinstance(drawn, list) else [("", drawn)]:
                fig.canvas.draw()
                renderer = fig.canvas.get_renderer()
                page, used = fig.bbox_inches, fig.get_tightbbox(renderer)  # inches
                assert page.x0 - 0.01 <= used.x0 and used.x1 <= page.x1 + 0.01, name
                assert page.y0 - 0.01 <= used.y0 and used.y1 <= page.y1 + 0.01, name
                for label in fig.findobj(Annotation):  # point labels: outside the layout
                    box = label.get_window_extent(renderer)
                    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, label.get_text()


@styled
def _cluster():
    """Eight points in a tight cluster (a depth sweep at one cost): labels move away, with
    leader lines."""
    fig, axes = figure()
    ax = axes[0][0]
    rng = np.random.default_rng(3)
    xs, ys = 2 + rng.normal(0, 0.05, 8), 50 + rng.normal(0, 0.3, 8)
    ax.scatter(xs, ys, s=25)
    ax.set_xlim(0, 4)
    ax.set_ylim(45, 55)
    fig.canvas.draw()
    place_labels(ax, xs, ys, [f"MTNet-{k} g={k}" for k in range(8)])
    fig.canvas.draw()
    return ax


def test_leader_lines_cross_no_label():
    ax = _cluster()
    labels = [c for c in ax.get_children() if isinstance(c, Annotation)]
    boxes = [Text.get_window_extent(label) for label in labels]  # the text, not its leader
    leaders = [label for label in labels if label.arrow_patch is not None]
    assert leaders, "a cluster this tight needs leader lines"
    for label in leaders:
        path = label.arrow_patch.get_path()  # display coordinates once drawn
        points = path.interpolated(40).vertices[5:-5]
        for other, box in zip(labels, boxes, strict=True):
            if other is label:
                continue
            inside = [box.contains(x, y) for x, y in points]
            assert not any(inside), (label.get_text(), other.get_text())


def test_complexity_labels_every_point_of_a_small_store(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    frame = next(s for s in load_stores(tmp_path / "reports") if s.suite == "baselines").ok
    fig = complexity(frame)
    labels = [c for c in fig.axes[0].get_children() if isinstance(c, Annotation)]
    assert sorted(t.get_text() for t in labels) == sorted(frame["label"])


def test_top5_is_shown_only_with_more_than_five_classes(tmp_path):
    for seed, classes in ((0, 5), (1, 10)):
        record = trained(f"r3d-{classes}", seed, 30.0, "r3d", "r3d-18", classes=classes)
        append_record(tmp_path, record)
    table = summary_table(load_stores(tmp_path)[0].frame)
    assert table["Top-5 (%)"].isna().tolist() == [True, False]
    only_five = tmp_path / "five"
    append_record(only_five, trained("r3d-5", 0, 30.0, "r3d", "r3d-18", classes=5))
    assert "Top-5 (%)" not in summary_table(load_stores(only_five)[0].frame)
