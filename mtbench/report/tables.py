"""The store as the paper's tables: one row per successful cell, grouped by family.

Markdown, LaTeX and the page show each figure through `mtbench.numbers` (params in the unit
that fits, GFLOPs and latency 2 decimals, accuracy 3 as in the paper, deltas 1, a figure over
seeds as mean ± 1 std (n), a disturbed latency marked); CSV keeps full precision for further
processing, and says each latency's verdict in a column. Every format is rendered from one
`TextTable`. Failed cells are not rows: they are listed under the table with their error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mtbench import numbers
from mtbench.errors import UsageError
from mtbench.report.choices import SORT_KEYS, TABLE_FORMATS
from mtbench.report.frame import Store, aggregate_seeds, machines_note, measured_on
from mtbench.report.paper import PaperCounts, with_paper
from mtbench.table_model import Column, Figure, TextTable, to_csv, to_latex, to_markdown

GFLOPS_HEADER = "GFLOPs (1 MAC = 1 FLOP)"
PARAMS_HEADER = "Params (M)"  # the frame's unit (CSV); the text shows each count in its own

# (frame column, header, short name for the compare columns, decimals)
FIGURES = [
    ("params_m", PARAMS_HEADER, "Params", 2),
    ("gflops", GFLOPS_HEADER, "GFLOPs", 2),
    ("latency_fwd_ms", "Latency F (ms)", "F", 2),
    ("latency_fwdbwd_ms", "Latency F+B (ms)", "F+B", 2),
    ("top1", "Top-1 (%)", "Top-1", 3),
    # INT8 cells: the audit's FLOP share; INT8 and bfloat16 cells with [data]: the gate's
    # figures (the network's top-1 in the cell's dtype and runtime, and its share of f32's).
    ("int8_flops_pct", "INT8 FLOPs (%)", "INT8 FLOPs", 1),
    ("top1_as_run", "Top-1 as run (%)", "as run", 3),
    ("top1_as_run_of_float_pct", "As run/f32 top-1 (%)", "as run/f32", 2),
    ("top5", "Top-5 (%)", "Top-5", 3),
    # Multiduration test sets: top-1 per action-duration bucket (columns only when present).
    ("top1_short", "Top-1 short (%)", "short", 1),
    ("top1_medium", "Top-1 medium (%)", "medium", 1),
    ("top1_long", "Top-1 long (%)", "long", 1),
    # Scenarios (mtbench.measure.scenarios): columns only where a cell ran one.
    ("scenario_p90_ms", "Scenario p90 (ms)", "p90", 2),
    ("scenario_p99_ms", "Scenario p99 (ms)", "p99", 2),
    ("scenario_qps", "QPS or clips/s", "QPS", 2),
    ("scenario_batch", "Best batch", "batch", 0),
    ("stream_fps", "Stream fps", "fps", 1),
    ("miss_rate", "Missed windows (%)", "missed", 1),
    ("live_fps", "Live fps (≤ 1% missed)", "live", 1),
]
DELTA_DECIMALS = 1
LATENCY_VERDICTS = {
    "latency_fwd_ms": "latency_fwd_verdict",
    "latency_fwdbwd_ms": "latency_fwdbwd_verdict",
}
TEXT_COLUMNS = (
    "Family",
    "Model",
    "Input (T×H×W)",
    "Runtime",
    "Scenario",
    "Dtype",
    "Quantized by",
    "INT8 ops",
    "Gate",
    "Dataset",
    "Suite",
)

SORT_COLUMNS = {
    "model": "label",
    "params": "params_m",
    "gflops": "gflops",
    "latency": "latency_fwd_ms",
    "top1": "top1",
}


def ordered_rows(frame: pd.DataFrame, sort: str | None) -> pd.DataFrame:
    """Families in order of first appearance, cells within a family by `sort` (else store order)."""
    if sort is not None and sort not in SORT_COLUMNS:
        raise UsageError(f"unknown --sort {sort!r}; choose one of: {', '.join(SORT_KEYS)}")
    family_rank = {f: i for i, f in enumerate(dict.fromkeys(frame["family"]))}
    keys = frame.assign(_family=frame["family"].map(family_rank), _order=range(len(frame)))
    by = ["_family", SORT_COLUMNS[sort] if sort else "_order"]
    return frame.loc[keys.sort_values(by, kind="stable", na_position="last").index]


def _identity_columns(ok: pd.DataFrame) -> pd.DataFrame:
    """Which cell a row is: family, model, input, and the runtime and dataset where any says."""
    table = pd.DataFrame(
        {"Family": ok["family"], "Model": ok["label"], "Input (T×H×W)": ok["input"]}
    )
    if (ok["runtime"] != "pytorch").any():
        table["Runtime"] = ok["runtime"]
    if (ok["scenario"] != "repeat").any():  # with LoadGen's verdict and the short-run label
        table["Scenario"] = ok["scenario_text"]
    if (ok["dtype"] != "float32").any():
        table["Dtype"] = ok["dtype"]
    for column, header in (
        ("quantized_by", "Quantized by"),
        ("int8_ops", "INT8 ops"),
        ("gate_verdict", "Gate"),
    ):
        if (ok[column] != "").any():
            table[header] = ok[column]
    if (ok["dataset"] != "").any():
        table["Dataset"] = ok["dataset"]
    return table


def summary_table(
    frame: pd.DataFrame,
    compare: bool = False,
    sort: str | None = None,
    counts: PaperCounts | None = None,
) -> pd.DataFrame:
    """Successful cells as display columns with full-precision numbers.

    With `compare`, each figure the paper also reports gets `<name> paper` and, where our
    figure can be had under the paper's conditions, `<name> Δ%` (ours minus paper, relative to
    paper). Params and GFLOPs are counted again by `counts` at the paper's class count and input
    (`<name> at ...` columns); latency has a delta only on the paper's kind of device. What was
    matched is in `table.attrs["notes"]`. Figures nobody has are left out. The rounding of each
    column for display is in `table.attrs["decimals"]`.
    """
    ok = ordered_rows(aggregate_seeds(frame[frame["status"] == "ok"]), sort)
    # top-5 of five classes or fewer is 100% by definition: shown only where it says something
    ok = ok.assign(top5=ok["top5"].where(~(ok["num_classes"] <= 5)))
    if compare:
        ok = with_paper(ok, counts or PaperCounts())
    table = _identity_columns(ok)
    decimals: dict[str, int] = {}
    notes: list[str] = []
    for column, header, short, places in FIGURES:
        paper = ok.get(f"paper_{column}") if compare else None  # None: the paper has no such figure
        has_paper = paper is not None and paper.notna().any()
        if not (ok[column].notna().any() or has_paper):
            continue
        table[header] = ok[column]
        decimals[header] = places
        if f"{column}_std" in ok and (ok["n_seeds"] > 1).any():
            table[f"{header} std"] = ok[f"{column}_std"]
            table[f"{header} seeds"] = ok["n_seeds"]
        if has_paper:
            ours = ok[f"matched_{column}"]
            at = _paper_conditions(ok, column)
            known = paper.notna()
            recounted = column in ("params_m", "gflops") and not np.allclose(
                ours[known], ok.loc[known, column], equal_nan=True
            )
            if recounted:
                where = at.split(", ", 1)[1] if ", " in at else "the paper's conditions"
                table[f"{short} at {where}"] = ours
                decimals[f"{short} at {where}"] = places
            table[f"{short} paper"] = paper
            decimals[f"{short} paper"] = places
            if ours.notna().any():
                table[f"{short} Δ%"] = (ours - paper) / paper * 100
                decimals[f"{short} Δ%"] = DELTA_DECIMALS
            notes.append(_note(ok, column, short, at, recounted, ours.notna().any()))
    table = table.reset_index(drop=True)
    table.attrs["decimals"] = decimals
    table.attrs["notes"] = notes
    table.attrs["disturbed"] = _disturbed_marks(ok, table)
    table.attrs["verdicts"] = _verdicts(ok, table)
    return table


def _verdicts(ok: pd.DataFrame, table: pd.DataFrame) -> dict[str, list[str]]:
    """Per latency column shown, each row's timing verdict (the CSV's verdict columns)."""
    return {
        header: list(ok[LATENCY_VERDICTS[column]].fillna(""))
        for column, header, *_ in FIGURES
        if column in LATENCY_VERDICTS and header in table
    }


def _disturbed_marks(ok: pd.DataFrame, table: pd.DataFrame) -> dict[str, list[bool]]:
    """Per latency column shown, which rows' timing was disturbed (columns with one only)."""
    marks = {}
    for column, header, *_ in FIGURES:
        if column in LATENCY_VERDICTS and header in table:
            flags = list(ok[LATENCY_VERDICTS[column]] == "disturbed")
            if any(flags):
                marks[header] = flags
    return marks


def _paper_conditions(ok: pd.DataFrame, column: str) -> str:
    """The paper's conditions for `column` across the rows it has ('Table 3, 16×256×256')."""
    return "; ".join(v for v in dict.fromkeys(ok[f"paper_{column}_at"]) if v)


def _note(
    ok: pd.DataFrame, column: str, short: str, at: str, recounted: bool, matched: bool
) -> str:
    """One footnote: what a paper column was matched on, or why it has no delta."""
    inputs = ", ".join(dict.fromkeys(ok["input"]))
    if column == "gflops":
        how = f"our models counted again at the paper's input ({at}); the cells ran at {inputs}"
        return f"{short}: {how if recounted else f'cells measured at the paper input ({at})'}."
    if column == "params_m":
        how = f"our models rebuilt with the paper's class count ({at})"
        return f"{short}: {how if recounted else f'same class count as the paper ({at})'}."
    if column in ("latency_fwd_ms", "latency_fwdbwd_ms"):
        devices = ", ".join(dict.fromkeys(ok["device"]))
        if matched:
            return f"{short}: delta only for cells on the paper's kind of device ({at})."
        return (
            f"{short} paper ({at}; input not stated) is shown for reference: the cells ran on "
            f"{devices}, so there is no delta."
        )
    return f"{short}: against the paper on the same dataset ({at})."


def _is_params(header: str) -> bool:
    return header == PARAMS_HEADER or header.startswith("Params ") and not header.endswith("Δ%")


def _texts(table: pd.DataFrame, header: str, places: int) -> list[str]:
    """One figure column as text: params in the unit that fits, deltas signed, else `places`
    decimals (significant digits where those would show none), over seeds mean ± 1 std (n)."""
    values = table[header]
    if _is_params(header):
        return [numbers.params(None if pd.isna(v) else v * 1e6) for v in values]
    if f"{header} std" in table:
        spread = zip(values, table[f"{header} std"], table[f"{header} seeds"], strict=True)
        return [numbers.over_seeds(v, sd, n, places) for v, sd, n in spread]
    sign = header.endswith("Δ%")
    return [numbers.decimal(None if pd.isna(v) else v, places, sign=sign) for v in values]


def formatted(table: pd.DataFrame) -> pd.DataFrame:
    """Every cell as its text (`_texts`), a disturbed latency marked; the spread columns
    folded into their figure's."""
    out = table.astype(object).copy()
    for header, places in table.attrs.get("decimals", {}).items():
        out[header] = _texts(table, header, places)
        out = out.drop(columns=[c for c in (f"{header} std", f"{header} seeds") if c in out])
    for header, flags in table.attrs.get("disturbed", {}).items():
        out[header] = [numbers.marked(t, f) for t, f in zip(out[header], flags, strict=True)]
    return out.fillna(numbers.MISSING).rename(columns={PARAMS_HEADER: "Params"})


def text_table(
    table: pd.DataFrame, title: str = "", footnotes: list[str] | None = None
) -> TextTable:
    """`summary_table`'s frame in the table model: each figure its text with its number (the
    page sorts by it), a rule between families."""
    text = formatted(table)
    figures = [
        c if c in table.attrs.get("decimals", {}) else None
        for c in [PARAMS_HEADER if c == "Params" else c for c in text.columns]
    ]
    columns = [Column(c, "left" if c in TEXT_COLUMNS else "right") for c in text.columns]
    rows = [
        [
            Figure(_number(table[c].iloc[i], c), t) if c else t
            for c, t in zip(figures, row, strict=True)
        ]
        for i, row in enumerate(text.itertuples(index=False))
    ]
    return TextTable(columns, rows, title, footnotes or [], group=0)


def _number(value: object, header: str) -> float | int | None:
    if pd.isna(value):
        return None
    if _is_params(header):  # the frame holds millions; the page sorts by the exact count
        return round(float(value) * 1e6)  # type: ignore[arg-type]
    return float(value)  # type: ignore[arg-type]


def csv_table(table: pd.DataFrame) -> TextTable:
    """`summary_table`'s frame at full precision, each latency's verdict in a column of its own
    (CSV has no footnotes to carry the mark)."""
    out = table.copy()
    verdicts = table.attrs.get("verdicts", {})
    for header in [h for h in out.columns if h in verdicts]:
        out.insert(out.columns.get_loc(header) + 1, f"{header} verdict", verdicts[header])
    columns = [Column(c) for c in out.columns]
    return TextTable(columns, [list(row) for row in out.itertuples(index=False)])


def footnotes(table: pd.DataFrame, store: Store | None = None) -> list[str]:
    """What a table's marks and paper columns mean, and the cells that failed."""
    notes = [f"paper: {note}" for note in table.attrs.get("notes", [])]
    if table.attrs.get("disturbed"):
        notes.append(numbers.DISTURBED_NOTE)
    if any(c.endswith(" std") for c in table.columns):
        notes.append(numbers.SEED_NOTE)
    return notes + [f"failed: {f}" for f in (failed_lines(store) if store else [])]


def failed_lines(store: Store) -> list[str]:
    return [f"{row.label}: {row.error or row.status}" for row in store.failed.itertuples()]


def render(stores: list[Store], fmt: str, compare: bool = False, sort: str | None = None) -> str:
    """All stores in one text: a section per suite for md and LaTeX, one CSV with a Suite
    column."""
    if fmt not in TABLE_FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose one of: {', '.join(TABLE_FORMATS)}")
    if fmt == "csv":
        tables = [
            _csv_frame(part, store.suite, compare, sort)
            for store in stores
            for part in store.by_machine()
        ]
        whole = pd.concat(tables, ignore_index=True)
        return to_csv(
            TextTable(
                [Column(c) for c in whole.columns], [list(r) for r in whole.itertuples(index=False)]
            )
        )
    sections = []
    for whole in stores:
        note = machines_note(whole)
        if note:
            sections.append(f"### {whole.suite}\n\n{note}" if fmt == "md" else f"% {note}")
        for store in whole.by_machine():
            sections.append(_section(store, fmt, compare, sort))
    return "\n\n".join(sections) + "\n"


def _csv_frame(part: Store, suite: str, compare: bool, sort: str | None) -> pd.DataFrame:
    """One machine's part of a store as CSV columns: Suite, Machine, then `csv_table`'s."""
    table = csv_table(summary_table(part.frame, compare, sort, PaperCounts(part.folder)))
    frame = pd.DataFrame(table.rows, columns=table.headers)
    frame.insert(0, "Machine", part.machines[0] if part.machines else "")
    frame.insert(0, "Suite", suite)
    return frame


def _section(store: Store, fmt: str, compare: bool, sort: str | None) -> str:
    """One store (or one machine's part of it) as a Markdown or LaTeX section."""
    table = summary_table(store.frame, compare, sort, PaperCounts(store.folder))
    where = f"measured on {measured_on(store)}"
    notes = footnotes(table, store)
    if fmt == "md":
        body = (
            to_markdown(text_table(table), notes=False) if len(table) else "_No successful cells._"
        )
        listed = "".join(f"\n- {line}" for line in notes)
        return f"### {store.suite}\n\n{where}\n\n{body}\n{listed}".rstrip()
    latex = to_latex(text_table(table, f"{store.suite}: {where}.", notes))
    return f"% suite {store.suite}\n{latex}"
