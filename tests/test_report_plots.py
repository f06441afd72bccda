"""Plots from the fixture stores: files written, PNG sizes, and the data handed to matplotlib."""

import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import typer
from matplotlib.container import BarContainer, ErrorbarContainer
from typer.testing import CliRunner

from mtbench.errors import UsageError
from mtbench.report.build import build_plots
from mtbench.report.commands import register
from mtbench.report.compare import median_interval
from mtbench.report.frame import load_stores
from mtbench.report.plots import (
    PlotSkipped,
    ablation,
    accuracy_vs_gflops,
    complexity,
    latency_bars,
)
from mtbench.report.style import DPI

FIXTURES = Path(__file__).parent / "fixtures" / "report"


@pytest.fixture
def reports(tmp_path):
    shutil.copytree(FIXTURES, tmp_path / "reports")
    return tmp_path / "reports"


def ok_frame(reports, suite):
    return next(s for s in load_stores(reports) if s.suite == suite).ok


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def offsets(ax):
    """Every filled scatter point of an axes as (x, y) rows."""
    filled = [c for c in ax.collections if len(c.get_facecolors()) and c.get_facecolors()[0][3]]
    return np.concatenate([c.get_offsets() for c in filled]) if filled else np.empty((0, 2))


def test_every_plot_is_written_with_its_size_and_skips_are_reported(reports):
    stores, outcomes, index = build_plots(reports, formats=["png"])
    written = {(o.suite, o.kind) for o in outcomes if not o.skipped}
    skipped = {(o.suite, o.kind): o.skipped for o in outcomes if o.skipped}
    kinds = ["accuracy-gflops", "accuracy-latency", "latency", "ablation", "complexity"]
    assert written == {("substreams", k) for k in kinds} | {
        ("baselines", "latency"),
        ("baselines", "complexity"),
    }
    assert "top-1" in skipped[("baselines", "accuracy-gflops")]
    assert "vary r or g" in skipped[("baselines", "ablation")]
    for outcome in outcomes:
        for path in outcome.paths:
            assert path.stat().st_size > 0
    # A one-column figure is 3.5 x 2.8 inches, two columns 7 inches wide, at the fixed DPI.
    plots = reports / "plots"
    assert png_size(plots / "substreams-accuracy-latency.png") == (int(3.5 * DPI), int(2.8 * DPI))
    assert png_size(plots / "substreams-complexity.png") == (7 * DPI, int(2.8 * DPI))
    assert png_size(plots / "baselines-complexity.png") == (7 * DPI, int(2.8 * DPI))
    html = index.read_text()
    assert html.count('src="data:image/png;base64,') == 7
    # nothing fetched: no tag points off the page (Bokeh's inline script names a MathJax URL it
    # loads only for math text, which the page has none of; test_report_browser.py watches the
    # browser's requests themselves)
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert not re.search(r'(src|href)="(https?:)?//', markup)
    assert "RuntimeError: out of memory" in html and "unreadable line" in html


def test_accuracy_vs_gflops_plots_the_store(reports):
    fig = accuracy_vs_gflops(ok_frame(reports, "substreams"))
    g1, g8 = fig.axes[:2]
    assert sorted(map(tuple, offsets(g1))) == [(34.12, 75.5), (63.98, 84.876)]
    assert sorted(map(tuple, offsets(g8))) == [(9.2, 83.9)]
    sizes = [c.get_sizes() for c in g1.collections if len(c.get_offsets())]
    assert sizes[0][1] / sizes[0][0] == pytest.approx(42.87 / 20.98)  # area ∝ params
    assert "1 MAC = 1 FLOP" in g1.get_xlabel() and "HACS" in g1.get_ylabel()


def test_paper_points_only_where_the_cell_was_measured_at_the_paper_input(reports):
    frame = ok_frame(reports, "substreams")
    fig = accuracy_vs_gflops(frame, compare=True)  # every cell at 16×112×112: no paper point
    assert not [c for c in fig.axes[0].collections if c.get_facecolors().size == 0]
    row = frame.index[frame["label"] == "MTNet-64"][0]
    frame.at[row, "input"] = "16×256×256"
    frame.at[row, "kwargs"] = {"num_classes": 700}
    fig = accuracy_vs_gflops(frame, compare=True)
    hollow = [c for c in fig.axes[0].collections if c.get_facecolors().size == 0]
    points = sorted(map(tuple, np.concatenate([c.get_offsets() for c in hollow])))
    assert points == [(64.53, 85.625)]


def test_latency_bars_and_spread(reports):
    frame = ok_frame(reports, "baselines")
    fig = latency_bars(frame)
    ax = fig.axes[0]
    forward, fwdbwd = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert list(forward.datavalues) == [95.2, 88.1, 120.3, 61.7]
    assert list(fwdbwd.datavalues) == [290.4, 270.9, 370.0, 205.5]
    # These records predate raw repeats: no interval is drawn (zero-length bars), and the axis
    # says so instead of passing p10-p90 off as one.
    bar = forward.patches[0]
    assert bar.get_width() == 95.2
    errors = [c for c in ax.containers if isinstance(c, ErrorbarContainer)][0]
    segment = errors.lines[2][0].get_segments()[0]
    assert [p[0] for p in segment] == pytest.approx([95.2, 95.2])
    assert "none for 4 without raw repeats" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_yticklabels()] == ["R3D-18", "MC3-18", "R(2+1)D-18", "S3D"]
    assert "cpu" in fig.get_suptitle() and "16×112×112" in fig.get_suptitle()


def test_latency_error_bars_are_the_bootstrap_interval_of_the_median(reports):
    frame = ok_frame(reports, "baselines")
    samples = (93.0, 94.5, 95.2, 96.0, 99.0, 95.0)
    frame.at[0, "latency_fwd_samples"] = samples
    fig = latency_bars(frame)
    ax = fig.axes[0]
    errors = [c for c in ax.containers if isinstance(c, ErrorbarContainer)][0]
    segment = errors.lines[2][0].get_segments()[0]
    assert [p[0] for p in segment] == pytest.approx(list(median_interval(samples)))
    assert "none for 3 without raw repeats" in ax.get_xlabel()


def test_ablation_lines_per_depth_and_g(reports):
    fig = ablation(ok_frame(reports, "substreams"))
    params_ax = fig.axes[0]
    lines = {line.get_label(): line.get_xydata().tolist() for line in params_ax.lines}
    assert lines["mtnet-64 g=8"] == [[0.75, 11.86], [0.875, 13.07]]
    assert lines["mtnet-32 g=1"] == [[0.75, 17.25], [0.875, 20.98]]
    assert [ax.get_ylabel() for ax in fig.axes[:3]][2] == "HACS top-1 accuracy (%)"


def test_complexity_without_latency_is_one_panel(reports):
    frame = ok_frame(reports, "baselines").assign(latency_fwd_ms=np.nan)
    fig = complexity(frame)
    assert len(fig.axes) == 1
    assert sorted(map(tuple, offsets(fig.axes[0]))) == [
        (8.320048, 17.98),
        (11.69544, 43.34),
        (31.505325, 40.52),
        (33.371472, 40.7),
    ]


def test_nothing_to_plot_raises_skip(reports):
    frame = ok_frame(reports, "baselines")
    with pytest.raises(PlotSkipped, match="top-1"):
        accuracy_vs_gflops(frame)
    with pytest.raises(PlotSkipped, match="latency"):
        latency_bars(frame.assign(latency_fwd_ms=np.nan))


def test_plot_command_reports_skips(reports):
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(
        app,
        ["plot", str(reports / "baselines"), "--only", "latency,ablation", "--format", "png,pdf"],
    )
    assert result.exit_code == 0, result.output
    assert "skipped baselines/ablation: no MTNet cells that vary r or g" in result.output
    assert (reports / "baselines" / "plots" / "baselines-latency.png").exists()
    assert (reports / "baselines" / "plots" / "baselines-latency.pdf").read_bytes()[:4] == b"%PDF"
    assert (reports / "baselines" / "index.html").exists()
    bad = CliRunner().invoke(app, ["plot", str(reports), "--only", "pie"])
    assert isinstance(bad.exception, UsageError) and "pie" in str(bad.exception)


def test_plot_on_a_folder_without_stores_exits_2(tmp_path, monkeypatch, capsys):
    """Through the real entry point, in process (a subprocess would import torch again)."""
    from mtbench.cli import main

    monkeypatch.setattr("sys.argv", ["mtbench", "plot", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "no result store" in lines[0]
