"""A record's breakdown as a table: the terminal's (`mtbench profile --breakdown`) and the
text formats of `mtbench table --breakdown` and the HTML report."""

from __future__ import annotations

from html import escape
from typing import Any

from mtbench.measure.breakdown_rows import (
    CEILING_LABELS,
    ceiling_verdict,
    derived_rows,
    peak_names,
)

BY_CHOICES = ("module", "op")
# GF: GFLOPs per clip by fvcore (fv) and ptflops (pt); F/B: FLOPs per byte moved; roof: the
# achieved GFLOP/s as a fraction of the roofline's bound at that intensity.
HEADERS = (
    "params M", "GF fv", "GF pt", "out MiB", "fwd ms", "share", "GFLOP/s", "F/B", "bound",
    "roof", "f+b ms",
)  # fmt: skip


def _num(value: float | None, digits: int = 2, scale: float = 1.0) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def breakdown_rows(
    breakdown: dict[str, Any], ceilings: dict[str, Any] | None, by: str
) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of a breakdown, by 'module' or 'op'."""
    if ceilings and "error" in ceilings:
        ceilings = None
    first = "module" if by == "module" else "kind of operator"
    out: list[list[str]] = []
    if "modules" not in breakdown:  # failed before counting: only its reason remains
        return [first, *HEADERS], out
    for row in derived_rows(breakdown, by, ceilings):
        out.append(
            [
                row.get("module") or row.get("kind") or "(whole model)",
                _num(row.get("params"), 3, 1e6),
                _num(row["gflops"], 3),
                _num(row["gflops_ptflops"], 3),
                _num(row.get("out_mib"), 1),
                _num(row["fwd_ms"], 1),
                _pct(row["share"]),
                _num(row["gflop_s"], 1),
                _num(row["intensity"], 1),
                row["bound"] or "-",
                _pct(row.get("of_roof")),
                _num(row["fwdbwd_ms"], 1),
            ]
        )
    if by == "op":  # kinds of operator hold no params and have no outputs of their own
        keep = [i for i, h in enumerate([first, *HEADERS]) if h not in ("params M", "out MiB")]
        return [[first, *HEADERS][i] for i in keep], [[r[i] for i in keep] for r in out]
    return [first, *HEADERS], out


def breakdown_notes(b: dict[str, Any], c: dict[str, Any] | None) -> list[str]:
    """What the table's times and ceilings are: profiled against un-profiled, the ceilings,
    the verdict on the machine's contention."""
    notes = []
    if b.get("error"):
        notes.append(f"breakdown failed: {b['error']}")
    for name, label in (("fwd", "forward"), ("fwdbwd", "forward+backward")):
        if b.get(f"{name}_ms") is not None:
            notes.append(
                f"profiled {label}: {b[f'{name}_ms']:.1f} ms/clip"
                f" (un-profiled median {b[f'unprofiled_{name}_ms']:.1f} ms) from the"
                f" {b['time_source']}"
            )
    if c and "error" not in c:
        notes += _ceilings_notes(c)
    if b.get("verdict") == "disturbed":
        notes.append("DISTURBED: the machine was busy while these times were taken")
    notes.append(
        "GF: GFLOPs/clip by fvcore (fv) and ptflops (pt), 1 multiply-add = 1 FLOP; F/B: fvcore"
        " FLOPs per byte its operators read and write; share: of the profiled forward; roof:"
        " achieved GFLOP/s over the roofline at that F/B"
    )
    return notes


def _ceilings_notes(c: dict[str, Any]) -> list[str]:
    """The ceilings the bound and roof columns are against, each with its verdict."""

    def one(name: str, digits: int) -> str:
        return f"{CEILING_LABELS[name]} {c[name]:.{digits}f} ({ceiling_verdict(c, name)})"

    notes = [
        f"ceilings ({c['entry']}): {one('gemm_gflops', 0)}, {one('conv3d_gflops', 0)} GFLOP/s;"
        f" {one('copy_gbs', 1)}, {one('add_gbs', 1)} GB/s"
    ]
    used = [name for name in peak_names(c) if ceiling_verdict(c, name) != "clean"]
    if used:
        notes.append(
            f"bound and roof are against {' and '.join(CEILING_LABELS[n] for n in used)}"
            f" ceilings not measured clean ({', '.join(ceiling_verdict(c, n) for n in used)}):"
            " `mtbench ceilings` measures a disturbed one again"
        )
    return notes


def cells_with_breakdown(frame: Any) -> list[tuple[str, dict[str, Any], dict | None]]:
    """(label, breakdown, ceilings) of each row of a store's frame that has a breakdown."""
    out = []
    for _, row in frame.iterrows():
        if isinstance(row.get("breakdown"), dict):
            ceilings = row.get("ceilings")
            out.append((row["label"], row["breakdown"], ceilings if isinstance(ceilings, dict)
                        else None))  # fmt: skip
    return out


def _title(label: str, breakdown: dict[str, Any]) -> str:
    mark = " (disturbed)" if breakdown.get("verdict") == "disturbed" else ""
    return f"{label}{mark}: where the cost goes (depth {breakdown['depth']})"


def breakdown_markdown(
    label: str, breakdown: dict[str, Any], ceilings: dict | None, by: str
) -> str:
    """One cell's breakdown as a Markdown table with its notes."""
    header, rows = breakdown_rows(breakdown, ceilings, by)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    notes = [f"- {n}" for n in breakdown_notes(breakdown, ceilings)]
    return "\n".join([f"### {_title(label, breakdown)}", "", *lines, "", *notes, ""])


def breakdown_html(frame: Any) -> str:
    """The breakdown tables of a store's cells for the HTML report ('' when none has one)."""
    parts = []
    for label, breakdown, ceilings in cells_with_breakdown(frame):
        for by in ("module", "op"):
            header, rows = breakdown_rows(breakdown, ceilings, by)
            head = "".join(f"<th>{escape(h)}</th>" for h in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>" for r in rows
            )
            notes = "<br>".join(escape(n) for n in breakdown_notes(breakdown, ceilings))
            parts.append(
                f'<h4>{escape(_title(label, breakdown))}, by {by}</h4><div class="scroll">'
                f'<table class="cells"><tr>{head}</tr>{body}</table></div>'
                f'<p class="note">{notes}</p>'
            )
    return f"<h3>Where the cost goes</h3>{''.join(parts)}" if parts else ""
