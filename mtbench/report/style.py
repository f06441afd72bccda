"""How every figure looks: sizes for a two-column paper, a colour-blind-safe palette, labels
that avoid each other.

Figures are drawn at a fixed size and DPI (no tight bounding box), so a PNG's pixel size is
known in advance: `COLUMN_WIDTH` x height at `DPI`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import ParamSpec, TypeVar

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

COLUMN_WIDTH = 3.5  # inches: one column of a two-column paper
PAGE_WIDTH = 7.0  # inches: both columns
PANEL_HEIGHT = 2.8
DPI = 200

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000")
# A second cue besides colour, so families stay apart in greyscale print too.
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
LINESTYLES = ("-", "--", ":", "-.")

RC = {
    "font.size": 7.5,
    "axes.titlesize": 8,
    "axes.labelsize": 7.5,
    "legend.fontsize": 6.5,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "svg.fonttype": "none",
    "pdf.fonttype": 42,
}


class PlotSkipped(Exception):
    """The store lacks what a plot needs; the message says what. (Here, beside the look every
    figure shares, so every module of figures can raise it.)"""


P = ParamSpec("P")
T = TypeVar("T")


def styled(draw: Callable[P, T]) -> Callable[P, T]:
    """Run a plotting function under `RC`: text made at any point of it gets the paper sizes,
    and the user's global matplotlib settings are left alone."""

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        with matplotlib.rc_context(RC):
            return draw(*args, **kwargs)

    return wrapper


def figure(
    ncols: int = 1,
    nrows: int = 1,
    width: float | None = None,
    height: float | None = None,
    sharey: bool = False,
) -> tuple[Figure, list[list[Axes]]]:
    """A figure of `nrows` x `ncols` panels, constrained layout, not registered with pyplot (so
    nothing leaks between plots). Call it inside a `styled` function."""
    width = width or (COLUMN_WIDTH if ncols == 1 else PAGE_WIDTH)
    fig = Figure(figsize=(width, height or PANEL_HEIGHT * nrows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # a renderer for measuring labels before the figure is saved
    return fig, fig.subplots(nrows, ncols, squeeze=False, sharey="row" if sharey else False)


# family -> (colour, marker): assigned once per report from all its stores, so a family looks
# the same in every figure of the report (curves, scatters, bars, breakdowns).
Styles = dict[str, tuple[str, str]]


def family_styles(families: Iterable[str]) -> Styles:
    """family -> (colour, marker), in order of first appearance, MTNets first."""
    ordered = sorted(dict.fromkeys(families), key=lambda f: f != "mtnet")
    return {
        f: (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)]) for i, f in enumerate(ordered)
    }


def style_of(styles: Styles, family: str) -> tuple[str, str]:
    """A family's colour and marker; grey circles for one the report did not assign."""
    return styles.get(family, ("#777777", "o"))


def shades(colour: str, n: int) -> list[tuple[float, ...]]:
    """`n` shades of one family's colour, the colour itself first, then lighter: the models of
    one family in a figure that tells them apart (the ablation's depths) keep their hue."""
    rgb = np.array(to_rgb(colour))
    steps = np.linspace(0.0, 0.55, n) if n > 1 else [0.0]
    return [tuple(rgb + t * (0.9 - rgb)) for t in steps]


def _overlap_area(box: Bbox, boxes: np.ndarray) -> float:
    """Total area `box` shares with `boxes` (rows of x0, y0, x1, y1), in one numpy pass: a
    store of thousands of cells has thousands of markers to keep clear of."""
    if not len(boxes):
        return 0.0
    w = np.minimum(box.x1, boxes[:, 2]) - np.maximum(box.x0, boxes[:, 0])
    h = np.minimum(box.y1, boxes[:, 3]) - np.maximum(box.y0, boxes[:, 1])
    return float((np.clip(w, 0, None) * np.clip(h, 0, None)).sum())


def _corners(boxes: Sequence[Bbox]) -> np.ndarray:
    return np.array([[b.x0, b.y0, b.x1, b.y1] for b in boxes]).reshape(-1, 4)


def _hits(points: np.ndarray, boxes: np.ndarray) -> int:
    """How many of `points` (rows of x, y) lie inside any of `boxes`."""
    if not len(points) or not len(boxes):
        return 0
    x, y = points[:, :1], points[:, 1:]
    inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
    return int(inside.any(axis=1).sum())


def _leader(anchor: np.ndarray, box: Bbox) -> np.ndarray:
    """Points every 2 px along the leader line matplotlib draws from a marker towards its
    label's centre (clipped at the label), the first tenth left out: it touches the marker."""
    centre = np.array([box.x0 + box.x1, box.y0 + box.y1]) / 2
    steps = max(int(np.hypot(*(centre - anchor)) / 2), 8)
    return anchor + np.linspace(0.1, 1.0, steps)[:, None] * (centre - anchor)


# Directions tried in turn for each label (right, left, up, down, then diagonals), at growing
# distances; a label moved away from its point gets a thin leader line.
_DIRECTIONS = (
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (-1, 1),
    (1, -1),
    (-1, -1),
    (0.5, 1),
    (-0.5, 1),
    (0.5, -1),
    (-0.5, -1),
    (1, 0.5),
    (-1, 0.5),
    (1, -0.5),
    (-1, -0.5),
)
# Multiples of the base gap; the rings past the first `_NEAR_RINGS` are tried only while no
# position clears every label (four labels side by side near 2 GFLOPs need them).
_DISTANCES = (1.0, 2.5, 4.5, 7.0, 10.0, 14.0, 19.0, 25.0, 32.0)
_NEAR_RINGS = 5
_ATTEMPTS = 6  # placements tried, each with the labels left walled in by the last first
_CROWD = 40.0  # points: how near a neighbour crowds a label (about a label's width)
_GAP = 4.0  # points between a marker's edge and its label
LABEL_SIZE = 6.0


class _LabelLayout:
    """What labels must keep clear of, in display pixels: the axes frame, every marker and
    obstacle, the labels placed so far and their leader lines (which must cross no label)."""

    def __init__(self, ax: Axes, xs: list, ys: list, areas, obstacles) -> None:
        fig = ax.figure
        self.renderer = fig.canvas.get_renderer()
        self.px_per_pt = fig.dpi / 72.0
        self.frame = ax.get_window_extent(self.renderer)
        self.anchors = ax.transData.transform(list(zip(xs, ys, strict=True)))
        self.radii = [np.sqrt(a) / 2 for a in (areas if areas is not None else [25.0] * len(xs))]
        self.markers = _corners(
            [Bbox.from_bounds(px - r, py - r, 2 * r, 2 * r) for (px, py), r in self._pixel_radii()]
        )
        extra = ax.transData.transform(obstacles) if len(obstacles) else np.empty((0, 2))
        self.extra = _corners([Bbox.from_bounds(px - 4, py - 4, 8, 8) for px, py in extra])
        self.placed: list[Bbox] = []
        self.leaders: list[np.ndarray] = []

    def _pixel_radii(self) -> list[tuple[np.ndarray, float]]:
        return [(a, r * self.px_per_pt) for a, r in zip(self.anchors, self.radii, strict=True)]

    def candidates(self, i: int, w: float, h: float) -> list[list[tuple[tuple, Bbox]]]:
        """Offsets (points) and text boxes (pixels) to try for label `i`, nearest first."""
        rings = []
        for distance in _DISTANCES:
            ring = []
            for dx, dy in _DIRECTIONS:
                gap = self.radii[i] + _GAP * distance
                ox, oy = dx * gap, dy * gap
                cx = self.anchors[i][0] + ox * self.px_per_pt
                cy = self.anchors[i][1] + oy * self.px_per_pt
                x0 = cx if dx > 0 else cx - w if dx < 0 else cx - w / 2
                y0 = cy if dy > 0 else cy - h if dy < 0 else cy - h / 2
                ring.append(((ox, oy), Bbox.from_bounds(x0, y0, w, h)))
            rings.append(ring)
        return rings

    def crowded_first(self, indices: list[int]) -> list[int]:
        """`indices` with the most crowded points first (most neighbours within `_CROWD`
        points), in their given order among equals: a point whose neighbours took every
        nearby position left it no free one (four labels near 2 GFLOPs did)."""
        if not indices:
            return []
        reach = _CROWD * self.px_per_pt
        gaps = np.abs(self.anchors[indices][:, None, :] - self.anchors[None, :, :])
        near = ((gaps[..., 0] < reach) & (gaps[..., 1] < reach / 4)).sum(axis=1)
        return [indices[k] for k in np.argsort(-near, kind="stable")]

    def is_far(self, i: int, offset: tuple[float, float]) -> bool:
        """Whether a label at `offset` is far enough from its marker to need a leader line."""
        return abs(offset[0]) + abs(offset[1]) > self.radii[i] + 2 * _GAP

    def score(self, i: int, offset: tuple[float, float], box: Bbox) -> tuple[float, ...]:
        """What a label must never do, what it should not do, what it had better not do,
        compared in that order: (its overlap with the labels placed so far, plus a whole
        label's area for a box outside the axes; a whole label's area for its leader through a
        label or a marker and for each leader it covers; its overlap with markers and
        obstacles)."""
        whole = box.width * box.height
        placed = _corners(self.placed)
        overlap = _overlap_area(box, placed)
        if not self.frame.contains(box.x0, box.y0) or not self.frame.contains(box.x1, box.y1):
            overlap += whole
        marks = np.concatenate([self.markers[:i], self.markers[i + 1 :], self.extra])
        crossed = sum(_hits(line, _corners([box])) for line in self.leaders)
        if self.is_far(i, offset):  # a leader over another marker points at the wrong one
            crossed += _hits(_leader(self.anchors[i], box), np.concatenate([placed, marks]))
        return overlap, whole * crossed, _overlap_area(box, marks)

    def best(self, i: int, w: float, h: float) -> tuple[tuple[float, float], Bbox, tuple]:
        """The first free position, nearest ring first; else, within the first rings, the one
        that does least of what it must not; the farther rings only while no position clears
        every label and leader. Returns the offset, the box and its score."""
        best: tuple[tuple[float, ...], tuple[float, float], Bbox] | None = None
        for n, ring in enumerate(self.candidates(i, w, h)):
            for offset, box in ring:
                score = self.score(i, offset, box)
                if best is None or score < best[0]:
                    best = (score, offset, box)
            assert best is not None
            if not any(best[0]) or (n + 1 >= _NEAR_RINGS and not any(best[0][:2])):
                break
        assert best is not None
        return best[1], best[2], best[0]

    def place(self, i: int, w: float, h: float) -> tuple[tuple[float, float], Bbox, tuple]:
        """Label `i` at its best position, kept clear of from now on: (offset, box, score)."""
        offset, box, hard = self.best(i, w, h)
        self.placed.append(box)
        if self.is_far(i, offset):
            self.leaders.append(_leader(self.anchors[i], box))
        return offset, box, hard


def place_labels(
    ax: Axes,
    xs: Sequence[float],
    ys: Sequence[float],
    texts: Sequence[str],
    areas: Sequence[float] | None = None,
    obstacles: Sequence[tuple[float, float]] = (),
    chosen: Sequence[bool] | None = None,
) -> None:
    """Label each point (each `chosen` one; the others stay markers to keep clear of) at the
    first candidate position whose text box stays inside the axes and hits no marker, no
    earlier label and no earlier leader line, and whose own leader line crosses no label; if
    none is free, at the least crowded one.

    `areas` are the marker areas in pt² (scatter's `s`), so labels clear large markers;
    `obstacles` are further data points to keep clear of (paper markers, links to them).
    Draw the figure once before labelling its axes, so the layout is final and the boxes
    measured here are where they will be drawn.
    """
    xs, ys, texts = list(xs), list(ys), list(texts)
    renderer = ax.figure.canvas.get_renderer()
    sizes = {}
    for i in range(len(texts)):
        if chosen is None or chosen[i]:
            probe = ax.text(0, 0, texts[i], fontsize=LABEL_SIZE)
            extent = probe.get_window_extent(renderer)
            probe.remove()
            sizes[i] = (extent.width, extent.height)
    layout = _LabelLayout(ax, xs, ys, areas, obstacles)
    order, best = layout.crowded_first(list(sizes)), None
    for _ in range(_ATTEMPTS):
        layout = _LabelLayout(ax, xs, ys, areas, obstacles)
        placed = [(i, *layout.place(i, *sizes[i])) for i in order]
        stuck = [i for i, _, _, score in placed if any(score[:2])]
        faults = (sum(score[0] > 0 for *_, score in placed), len(stuck))
        if best is None or faults < best[0]:
            best = (faults, placed, layout)
        if not stuck:
            break
        order = stuck + [i for i in order if i not in stuck]  # walled in: placed first next
    for i, offset, _, _ in best[1] if best else []:
        leader = best[2].radii[i] if best[2].is_far(i, offset) else None
        _annotate(ax, (xs[i], ys[i]), texts[i], offset, leader)


def _annotate(
    ax: Axes, xy: tuple[float, float], text: str, offset: tuple[float, float], leader: float | None
) -> None:
    """The label at `offset` points from its marker; a grey leader line, stopping `leader`
    points short of the marker's centre, when it was moved away."""
    ox, oy = offset
    label = ax.annotate(
        text,
        xy,
        xytext=offset,
        textcoords="offset points",
        ha="left" if ox > 0 else "right" if ox < 0 else "center",
        va="bottom" if oy > 0 else "top" if oy < 0 else "center",
        fontsize=LABEL_SIZE,
        color="#333333",
        arrowprops=None
        if leader is None
        else {"arrowstyle": "-", "lw": 0.4, "color": "#999999", "shrinkA": 0, "shrinkB": leader},
    )
    label.set_in_layout(False)


MAX_LABELS = 14  # per panel: more labels than this on a column-wide panel cannot be read


def pareto_front(xs: np.ndarray, ys: np.ndarray, maximize_y: bool) -> np.ndarray:
    """Mask of the points no other point beats: lower x and better y (higher if
    `maximize_y`, else lower), the cells a reader compares first."""
    order = np.lexsort((-ys if maximize_y else ys, xs))
    mask = np.zeros(len(xs), dtype=bool)
    best = -np.inf if maximize_y else np.inf
    for i in order:
        if (ys[i] > best) if maximize_y else (ys[i] < best):
            mask[i] = True
            best = ys[i]
    return mask


def labels_to_draw(
    xs: Sequence[float], ys: Sequence[float], baseline: Sequence[bool], maximize_y: bool
) -> np.ndarray:
    """Which points get a text label: all of them in a small plot; else the Pareto front and
    the baseline cells, up to `MAX_LABELS` (front first, by x). The others are told apart by
    colour and marker, and found by name in index.html's table."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(x) <= MAX_LABELS:
        return np.ones(len(x), dtype=bool)
    front = pareto_front(x, y, maximize_y)
    ranked = [
        *np.flatnonzero(front)[np.argsort(x[front])],
        *np.flatnonzero(np.asarray(baseline) & ~front),
    ]
    mask = np.zeros(len(x), dtype=bool)
    mask[ranked[:MAX_LABELS]] = True
    return mask
