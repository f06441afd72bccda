"""A record's breakdown as a table: the terminal's (`mtbench profile --breakdown`) and the
text formats of `mtbench table --breakdown` and the HTML report."""

from __future__ import annotations

from html import escape
from typing import Any

from mtbench import numbers
from mtbench.measure.breakdown_rows import (
    CEILING_LABELS,
    ceiling_verdict,
    derived_rows,
    peak_names,
)
from mtbench.table_model import Column, TextTable, to_html, to_markdown

BY_CHOICES = ("module", "op")
# GF: GFLOPs per clip by fvcore (fv) and ptflops (pt); F/B: FLOPs per byte moved; roof: the
# achieved GFLOP/s as a fraction of the roofline's bound at that intensity.
HEADERS = (
    "params",
    "GF fv",
    "GF pt",
    "out MiB",
    "fwd ms",
    "share",
    "GFLOP/s",
    "F/B",
    "bound",
    "roof",
    "f+b ms",
)


def _share(value: float | None) -> str:
    return numbers.percent(value, fraction=True)


def int8_ops_under(audit: dict[str, Any], module: str | None) -> str:
    """'k of n': of the audited compute operators matched to `module` or a module inside it
    (the whole network for None), how many ran in INT8."""

    def inside(path: str) -> bool:
        return module is None or path == module or path.startswith(module + ".")

    int8 = sum(inside(m) for m in audit["int8_modules"])
    total = int8 + sum(inside(m) for m in audit["float_modules"])
    return f"{int8} of {total}" if total else numbers.MISSING


def breakdown_rows(
    breakdown: dict[str, Any],
    ceilings: dict[str, Any] | None,
    by: str,
    audits: dict[str, dict[str, Any]] | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and text rows of a breakdown, by 'module' or 'op'; by module, one more column
    per INT8 network of the same model (`audits`: its toolchain -> its audit) saying how many
    of each row's operators ran in INT8, so a row left in float shows what it costs."""
    if ceilings and "error" in ceilings:
        ceilings = None
    first = "module" if by == "module" else "kind of operator"
    out: list[list[str]] = []
    if "modules" not in breakdown:  # failed before counting: only its reason remains
        return [first, *HEADERS], out
    for row in derived_rows(breakdown, by, ceilings):
        params = row.get("params")
        out.append(
            [
                row.get("module") or row.get("kind") or "(whole model)",
                numbers.params(params) if params is not None else numbers.MISSING,
                numbers.gflops(row["gflops"]),
                numbers.gflops(row["gflops_ptflops"]),
                numbers.decimal(row.get("out_mib"), 1),
                numbers.decimal(row["fwd_ms"], 1),
                _share(row["share"]),
                numbers.decimal(row["gflop_s"], 1),
                numbers.decimal(row["intensity"], 1),
                row["bound"] or numbers.MISSING,
                _share(row.get("of_roof")),
                numbers.decimal(row["fwdbwd_ms"], 1),
                *(int8_ops_under(a, row.get("module")) for a in (audits or {}).values()),
            ]
        )
    int8_headers = [f"INT8 {toolchain}" for toolchain in (audits or {})]
    if by == "op":  # kinds of operator hold no params and have no outputs of their own
        keep = [i for i, h in enumerate([first, *HEADERS]) if h not in ("params", "out MiB")]
        return [[first, *HEADERS][i] for i in keep], [[r[i] for i in keep] for r in out]
    return [first, *HEADERS, *int8_headers], out


def breakdown_table(
    breakdown: dict[str, Any],
    ceilings: dict[str, Any] | None,
    by: str,
    title: str = "",
    audits: dict[str, dict[str, Any]] | None = None,
) -> TextTable:
    """One cell's breakdown in the table model: its rows, and its notes as footnotes."""
    audits = audits if by == "module" else None
    header, rows = breakdown_rows(breakdown, ceilings, by, audits)
    columns = [Column(h, "left" if i == 0 else "right") for i, h in enumerate(header)]
    notes = breakdown_notes(breakdown, ceilings)
    if audits:
        notes.append(
            "INT8 <toolchain>: of the row's convolutions, matrix products and recurrent layers,"
            " those that ran in INT8 in that toolchain's network of the same model and input"
            " (its audit); the rest stayed in float"
        )
    table = TextTable(columns, rows, title or _title("", breakdown, by), notes)
    return table.drop_empty(keep=(header[0],))  # ptflops' rows before they were dropped


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
        notes.append(numbers.DISTURBED_NOTE)
    notes.append(
        "GF fv: GFLOPs/clip by fvcore, rows from the trace that gave the total (ptflops counts"
        " the whole model only; GF pt: its rows, in records made before), 1 multiply-add = 1"
        " FLOP; F/B: fvcore FLOPs per byte its operators read and write; share: of the profiled"
        " forward; roof: achieved GFLOP/s over the roofline at that F/B"
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


SAME_NETWORK = ("model", "kwargs", "input", "machine")


def cells_with_breakdown(
    frame: Any,
) -> list[tuple[str, dict[str, Any], dict | None, dict[str, dict[str, Any]]]]:
    """(label, breakdown, ceilings, audits) of each row of a store's frame that has a
    breakdown; `audits` holds the audit of each INT8 cell of the same model, keyword
    arguments, input and machine, by its toolchain (and runtime)."""
    audited = frame[frame["audit"].map(lambda a: isinstance(a, dict))]
    out = []
    for _, row in frame.iterrows():
        if isinstance(row.get("breakdown"), dict):
            ceilings = row.get("ceilings")
            same = audited[
                (
                    audited[list(SAME_NETWORK)].astype(str) == row[list(SAME_NETWORK)].astype(str)
                ).all(axis=1)
            ]
            audits = {
                f"{q['quantized_by']} ({q['runtime']})": q["audit"] for _, q in same.iterrows()
            }
            out.append(
                (
                    row["label"],
                    row["breakdown"],
                    ceilings if isinstance(ceilings, dict) else None,
                    audits,
                )
            )
    return out


def _title(label: str, breakdown: dict[str, Any], by: str = "") -> str:
    """'mtnet-32 †: where the cost goes (depth 2), by module' (the mark where disturbed)."""
    who = numbers.marked(label, breakdown.get("verdict") == "disturbed") if label else ""
    where = f"where the cost goes, by {by}" if by else "where the cost goes"
    return f"{who + ': ' if who else ''}{where} (depth {breakdown['depth']})"


def breakdown_markdown(
    label: str,
    breakdown: dict[str, Any],
    ceilings: dict | None,
    by: str,
    audits: dict[str, dict[str, Any]] | None = None,
) -> str:
    """One cell's breakdown as a Markdown table with its notes."""
    table = breakdown_table(breakdown, ceilings, by, audits=audits)
    return "\n".join([f"### {_title(label, breakdown)}", "", to_markdown(table), ""])


def breakdown_html(frame: Any) -> str:
    """The breakdown tables of a store's cells for the HTML report ('' when none has one)."""
    parts = []
    for label, breakdown, ceilings, audits in cells_with_breakdown(frame):
        for by in ("module", "op"):
            html = to_html(breakdown_table(breakdown, ceilings, by, audits=audits), 'class="cells"')
            parts.append(
                f'<h4>{escape(_title(label, breakdown, by))}</h4><div class="scroll">{html}</div>'
            )
    return f"<h3>Where the cost goes</h3>{''.join(parts)}" if parts else ""
