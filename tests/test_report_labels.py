"""No two point labels of the complexity figure overlap, on the labels and counts of the shipped
suites' models (MTNet-64 g=8 and MTNet-132 g=8, at r = 0.875 and r = 1, sit side by side near
2 GFLOPs in substreams)."""

import json
from pathlib import Path

import pytest
from matplotlib.text import Annotation, Text

from mtbench.report.frame import load_stores
from mtbench.report.plots import complexity
from mtbench.report.style import labels_to_draw
from mtbench.suite.store import append_record

FIXTURES = Path(__file__).parent / "fixtures"
# Per shipped measure-only suite, each cell's label, family, exact parameter count and GFLOPs
# at the suite's input (torch's FlopCounterMode on the meta device, halved: one multiply-add is
# one FLOP), as counted from suites/*.toml at this commit.
COUNTS = json.loads((FIXTURES / "complexity_labels.json").read_text())


def write_store(root: Path, suite: str, with_latency: bool) -> Path:
    """The suite's records as a store; latency, where asked, a stand-in that grows with the
    GFLOPs (the figure's second panel, its points along one line)."""
    template = json.loads((FIXTURES / "report/substreams/results.jsonl").read_text().split("\n")[0])
    for drop in ("latency_fwd_ms", "latency_fwdbwd_ms", "paper_gflops", "paper_params"):
        template.pop(drop, None)
    folder = root / suite
    for n, row in enumerate(COUNTS[suite]):
        record = {**template, **row, "suite": suite, "cell_key": f"{n:012x}", "model_kwargs": {}}
        record["params_trainable"] = row["params_total"]
        record["gflops_ptflops"] = row["gflops"]
        if with_latency:
            median = 5.0 + 30.0 * row["gflops"]
            spread = {"p10": 0.97 * median, "p90": 1.03 * median, "repeats": 5, "cv": 0.02}
            record["latency_fwd_ms"] = {"median": median, **spread}
        append_record(folder, record)
    return folder


def text_boxes(ax, renderer) -> list[tuple[str, object]]:
    """Each label's text box as drawn (the text only: leader lines are tested elsewhere)."""
    labels = [c for c in ax.get_children() if isinstance(c, Annotation)]
    return [(label.get_text(), Text.get_window_extent(label, renderer)) for label in labels]


@pytest.mark.parametrize("with_latency", [False, True], ids=["one panel", "with latency"])
@pytest.mark.parametrize("suite", sorted(COUNTS))
def test_no_two_complexity_labels_overlap(tmp_path, suite, with_latency):
    frame = load_stores(write_store(tmp_path, suite, with_latency))[0].ok
    fig = complexity(frame)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    panels = [("params_m", "gflops"), ("gflops", "latency_fwd_ms")][: 2 if with_latency else 1]
    for ax, (x, y) in zip(fig.axes, panels, strict=True):
        boxes = text_boxes(ax, renderer)
        chosen = labels_to_draw(frame[x], frame[y], frame["family"] != "mtnet", False)
        assert sorted(t for t, _ in boxes) == sorted(frame["label"][chosen])
        for n, (text, box) in enumerate(boxes):
            assert ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1), text
            for other, other_box in boxes[n + 1 :]:
                assert not box.overlaps(other_box), (suite, text, other)


def test_the_near_2_gflops_row_is_in_the_fixture():
    """The case the test is for: four labels side by side within 0.3 GFLOPs."""
    near = {r["label"] for r in COUNTS["substreams"] if 1.5 < r["gflops"] < 2.1}
    assert near == {"mtnet-64 g=8", "mtnet-64 r=1 g=8", "mtnet-132 g=8", "mtnet-132 r=1 g=8"}
