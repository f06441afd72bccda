"""Reports of large stores: few, readable labels; no figure taller than a page; every cell
findable in index.html."""

import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.text import Annotation

from mtbench.report.build import build_plots
from mtbench.report.frame import load_stores
from mtbench.report.plots import MAX_BARS, complexity, latency_pages
from mtbench.report.style import MAX_LABELS, labels_to_draw, pareto_front

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from report_scale import build_store  # noqa: E402  (the benchmark's own store builder)

# One worker builds the module-scoped fixture once for all of them (tests/serial_last.py).
pytestmark = pytest.mark.xdist_group("report-scale")

PAGE_HEIGHT = 9.0  # inches: a letter or A4 page less its margins


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = tmp_path_factory.mktemp("big")
    build_store(root / "store", 120, raw=True)
    return root


def test_pareto_front_against_a_hand_reading():
    x = np.array([1.0, 2.0, 3.0, 4.0, 2.5])
    y = np.array([50.0, 60.0, 55.0, 70.0, 65.0])
    # higher accuracy at lower cost: 1 (cheapest), 2 (beats 1), 2.5 (beats 2), 4 (best)
    assert pareto_front(x, y, maximize_y=True).tolist() == [True, True, False, True, True]
    assert pareto_front(x, y, maximize_y=False).tolist() == [True, False, False, False, False]


def test_small_plots_label_everything_large_ones_the_front_and_baselines_only():
    assert labels_to_draw([1, 2], [1, 2], [False, False], True).all()
    rng = np.random.default_rng(0)
    x, y = rng.uniform(1, 10, 300), rng.uniform(40, 80, 300)
    baseline = np.zeros(300, dtype=bool)
    baseline[:3] = True
    chosen = labels_to_draw(x, y, baseline, True)
    front = pareto_front(x, y, True)
    assert chosen.sum() <= MAX_LABELS
    assert chosen[front].all() or chosen.sum() == MAX_LABELS
    assert not chosen[~front & ~baseline].any()


def test_complexity_of_a_large_store_has_few_labels_and_says_where_the_rest_are(big):
    ok = load_stores(big)[0].ok
    fig = complexity(ok)
    for ax in fig.axes:
        labels = [c for c in ax.get_children() if isinstance(c, Annotation)]
        assert 0 < len(labels) <= MAX_LABELS
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "index.html" in legend


def test_latency_of_a_large_store_is_split_into_pages(big):
    ok = load_stores(big)[0].ok
    pages = latency_pages(ok)
    assert isinstance(pages, list) and len(pages) > 1
    bars = 0
    for name, fig in pages:
        assert fig.get_figheight() <= PAGE_HEIGHT
        assert name in fig.get_suptitle()
        ticks = fig.axes[0].get_yticklabels()
        assert len(ticks) <= MAX_BARS
        bars += len(ticks)
    assert bars == ok["latency_fwd_ms"].notna().sum()  # every timed cell on some page


@pytest.mark.slow
def test_index_lets_a_reader_find_and_sort_every_cell(big):
    _, outcomes, index = build_plots(big, ["latency"], ["png"])
    pages = [o for o in outcomes if o.png]
    assert len(pages) > 1
    html = index.read_text()
    # the first page inline, the others linked to their files: the page stays a few MB
    assert html.count('src="data:image/png;base64,') == 1
    for page in pages[1:]:
        link = f'href="plots/{page.paths[0].name}"'
        assert link in html and (index.parent / "plots" / page.paths[0].name).is_file()
    assert '<table class="cells" data-find="find-substreams">' in html
    assert 'id="find-substreams"' in html and "<script>" in html
    ok = load_stores(big)[0].ok
    assert all(f"<td>{label}</td>" in html for label in ok["label"])
