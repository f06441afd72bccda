"""The names the report commands accept, kept apart from pandas and matplotlib.

The CLI shows them in its help; importing this module costs nothing, so `mtbench profile`
and `mtbench run` do not pay for the plotting stack at start-up.
"""

from __future__ import annotations

from mtbench.errors import UsageError

PLOT_NAMES = (
    "accuracy-gflops",
    "accuracy-latency",
    "accuracy-duration",
    "training",
    "latency",
    "ablation",
    "complexity",
    "breakdown-shares",
    "breakdown-roofline",
    "breakdown-ops",
    "server-curve",
    "accuracy-latency-int8",
)
PLOT_FORMATS = ("png", "svg", "pdf")
TABLE_FORMATS = ("md", "latex", "csv")
SORT_KEYS = ("model", "params", "gflops", "latency", "top1")


def parse_choices(text: str | None, choices: tuple[str, ...] | list[str], option: str) -> list[str]:
    """'a,b' -> ['a', 'b'], each checked against `choices`; empty or None -> all of them."""
    if not text:
        return list(choices)
    picked = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [p for p in picked if p not in choices]
    if unknown:
        raise UsageError(f"unknown {option} {unknown[0]!r}; choose from: {', '.join(choices)}")
    return picked
