"""A stored breakdown read as rows: what tables and figures compute from a record's
`breakdown` and its machine's ceilings (plain arithmetic on the stored numbers, so reading a
report needs no torch)."""

from __future__ import annotations

from typing import Any, Literal

from mtbench.record import Breakdown, Ceilings, breakdown_rows_of


def peaks(ceilings: Ceilings | None) -> tuple[float, float] | None:
    """(peak GFLOP/s, peak GB/s): the better of each pair of benchmarks."""
    if not ceilings:
        return None
    return (
        max(ceilings["gemm_gflops"], ceilings["conv3d_gflops"]),
        max(ceilings["copy_gbs"], ceilings["add_gbs"]),
    )


# The ceilings' figures as tables and figures name them.
CEILING_LABELS = {
    "gemm_gflops": "GEMM",
    "conv3d_gflops": "conv3d",
    "copy_gbs": "copy",
    "add_gbs": "add",
}


def ceiling_verdict(ceilings: dict[str, Any], name: str) -> str:
    """The verdict on one ceiling's window; `unknown` in records older than the verdicts."""
    return ((ceilings.get("verdicts") or {}).get(name) or {}).get("verdict", "unknown")


def peak_names(ceilings: dict[str, Any]) -> tuple[str, str]:
    """The figures `peaks` takes: the better compute and the better bandwidth benchmark."""
    return (
        max(("gemm_gflops", "conv3d_gflops"), key=lambda name: ceilings[name]),
        max(("copy_gbs", "add_gbs"), key=lambda name: ceilings[name]),
    )


def derived_rows(
    breakdown: Breakdown, by: Literal["module", "op"], ceilings: Ceilings | None
) -> list[dict[str, Any]]:
    """Each row of `by` ('module' or 'op') as a dict, with share of the forward, achieved
    GFLOP/s (fvcore FLOPs over forward time), intensity (FLOPs per byte moved) and the
    ceiling that bounds it on a roofline (compute or memory)."""
    total = breakdown.get("fwd_ms")
    peak = peaks(ceilings)
    out = []
    for row in breakdown_rows_of(breakdown, by):
        fwd, gflops, moved = row["fwd_ms"], row["gflops"], row["moved_mb"]
        row["share"] = fwd / total if fwd is not None and total else None
        row["gflop_s"] = gflops / (fwd / 1e3) if gflops and fwd and fwd > 0 else None
        row["intensity"] = gflops * 1e3 / moved if gflops and moved else None
        row["bound"] = None
        if peak is not None and row["intensity"] is not None:
            row["bound"] = "compute" if row["intensity"] >= peak[0] / peak[1] else "memory"
            attainable = min(peak[0], peak[1] * row["intensity"])
            row["of_roof"] = row["gflop_s"] / attainable if row["gflop_s"] else None
        out.append(row)
    return out
