"""How every number reaches a reader: one function per kind of figure, one disturbed mark.

Every command, table, the page and the figures' legends show a record's figures through these,
so a log line, a table and a figure of the same record say the same thing (pytest-benchmark's
`format_time` is the model). The conventions, also stated in docs/measuring.md:

- latency: milliseconds, two decimals (two significant digits below 0.1 ms), its spread as
  p10-p90 over the repeats;
- params: an exact count in the unit that fits (343, 12.3 k, 33.37 M);
- GFLOPs: two decimals, and three significant digits below 1, so a small model never reads
  0.000;
- a figure over training seeds: mean ± 1 standard deviation over the seeds (n);
- a timing disturbed by other work on the machine: the one mark, after the unit
  (`264.10 ms †`), explained by the one footnote.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

MISSING = "–"  # a figure the record does not have
DISTURBED_MARK = "†"
AT_LEAST = "≥"
OPEN_ENDED_NOTE = (
    f"{AT_LEAST}: every step of the search passed, so the highest value lies at or above it."
)
DISTURBED_WORDS = "disturbed: timed while the machine was busy"
DISTURBED_NOTE = (
    f"{DISTURBED_MARK} {DISTURBED_WORDS} (other processes used it, or its repeats scattered); "
    "re-time with `mtbench run SUITE --retime-disturbed`."
)
SEED_SPREAD = "mean ± 1 std over seeds"
SEED_NOTE = f"a ± b (n): {SEED_SPREAD}, n training seeds."


def _absent(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def decimal(value: float | None, places: int = 2, significant: int = 2, sign: bool = False) -> str:
    """`value` with `places` decimals, more where fewer would show under `significant`
    significant digits (0.0123 -> '0.012', not '0.01'; 0.000412 -> '0.00041'); 0: fixed."""
    if _absent(value):
        return MISSING
    assert value is not None
    if value != 0 and significant > 0:
        places = max(places, significant - 1 - math.floor(math.log10(abs(value))))
    return f"{value:{'+' if sign else ''}.{places}f}"


def at_least(text: str, open_ended: bool) -> str:
    """`text` as a lower bound: a search whose every step passed found no limit below its range."""
    return f"{AT_LEAST} {text}" if open_ended and text != MISSING else text


def marked(text: str, disturbed: bool) -> str:
    """`text` with the disturbed mark after it (after its unit, where it has one)."""
    return f"{text} {DISTURBED_MARK}" if disturbed and text != MISSING else text


def latency(
    ms: float | None,
    disturbed: bool = False,
    unit: bool = True,
    spread: tuple[float | None, float | None] | None = None,
) -> str:
    """'35.50 ms', '264.10 ms †', '35.50 ms (p10 34.10, p90 36.20)'; without `unit` where the
    header names it ('264.10 †')."""
    if _absent(ms):
        return MISSING
    text = marked(decimal(ms) + (" ms" if unit else ""), disturbed)
    if spread is not None and not any(_absent(v) for v in spread):
        text += f" (p10 {decimal(spread[0])}, p90 {decimal(spread[1])})"
    return text


def latency_stats(stats: Mapping[str, Any] | None, unit: bool = True, detail: bool = False) -> str:
    """A record's latency stats (`read_record`'s layout) as its median, marked where disturbed;
    with `detail` its spread too: '180.63 ms † (p10 68.98, p90 292.29, cv 0.773, n=2)', and
    where each repeat timed a block of runs, how many: '3.10 ms (..., n=10 × 32 runs)'."""
    if not stats:
        return MISSING
    text = latency(stats.get("median"), stats.get("verdict") == "disturbed", unit)
    if detail:
        runs = stats.get("runs_per_repeat") or 1
        text += (
            f" (p10 {decimal(stats['p10'])}, p90 {decimal(stats['p90'])},"
            f" cv {decimal(stats['cv'], 3)}, n={stats['repeats']}"
            + (f" × {runs} runs)" if runs > 1 else ")")
        )
    return text


def verdict(stats: Mapping[str, Any] | None) -> str:
    """A timing's verdict as a reader gets it: 'clean', 'disturbed (why)', 'unknown'."""
    if not stats:
        return MISSING
    said = stats.get("verdict") or "unknown"
    reasons = "; ".join(stats.get("reasons") or [])
    return f"{said} ({reasons})" if said == "disturbed" and reasons else said


def params(count: float | None) -> str:
    """An exact count in the unit that fits: 343 -> '343', 12_345 -> '12.3 k',
    33_371_472 -> '33.37 M'."""
    if _absent(count):
        return MISSING
    assert count is not None
    size = abs(count)
    if size < 1e3:
        return f"{count:.0f}"
    if size < 1e6:
        return f"{count / 1e3:.1f} k"
    if size < 1e9:
        return f"{count / 1e6:.2f} M"
    return f"{count / 1e9:.2f} G"


def gflops(value: float | None) -> str:
    """GFLOPs per clip: 2 decimals, 3 significant digits below 1 (0.000123 -> '0.000123')."""
    return decimal(value, 2, significant=3)


def percent(
    value: float | None, places: int = 1, fraction: bool = False, sign: bool = False
) -> str:
    """'45.0%' from 45.0 (or from 0.45 with `fraction`): fixed decimals, a share is read to
    its place (0.00004 -> '0.0%')."""
    if _absent(value):
        return MISSING
    assert value is not None
    return decimal(100 * value if fraction else value, places, significant=0, sign=sign) + "%"


def interval(low: float, high: float, places: int = 2, sign: bool = False) -> str:
    """'[0.98, 1.04]': a confidence interval's bounds."""
    return f"[{decimal(low, places, sign=sign)}, {decimal(high, places, sign=sign)}]"


def over_seeds(mean: float | None, std: float | None, n: float, places: int = 2) -> str:
    """A figure over training seeds: 'mean ± std (n)'; the mean alone for one seed."""
    text = decimal(mean, places)
    if text == MISSING or n <= 1 or _absent(std):
        return text
    return f"{text} ± {decimal(std, places)} ({n:g})"


def count(n: float, noun: str) -> str:
    """'1 thread', '2 threads'."""
    return f"{n:g} {noun}" + ("" if n == 1 else "s")


def duration(seconds: float | None) -> str:
    """A whole command's or a benchmark's wall time: '26 s', '8 min 28 s', '1 h 02 min'."""
    if _absent(seconds):
        return MISSING
    minutes, rest = divmod(round(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"
