"""The terminal and the log: tables as wide as they need in a file or pipe, one line per
finished cell in a run's log, `mtbench models` sorted naturally and readable at 80 columns."""

import io
import re
from types import SimpleNamespace

from rich.table import Table
from suite_files import suite_file

from mtbench.cli import _model_blocks, natural_key
from mtbench.console import LogConsole

HEADERS = ("label", "input", "params (M)", "GFLOPs/clip*", "fwd (ms)", "fwd+bwd (ms)", "status")


def test_a_table_in_a_file_takes_the_width_it_needs(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    table = Table()
    for header in HEADERS:
        table.add_column(header, overflow="fold")
    table.add_row("mtnet-132 r=0.875 g=8 compile=True", "1x3x16x112x112", *"12345")
    out = io.StringIO()
    LogConsole(file=out).print(table)
    lines = out.getvalue().splitlines()
    assert len(lines) == 5  # top rule, header, rule, one row, bottom rule: nothing wrapped
    assert all(header in lines[1] for header in HEADERS)
    assert "mtnet-132 r=0.875 g=8 compile=True" in lines[3]
    assert len(lines[1]) > 80


def test_columns_set_by_the_user_are_kept(monkeypatch):
    monkeypatch.setenv("COLUMNS", "60")
    assert LogConsole(file=io.StringIO()).width == 60


def test_a_run_logged_to_a_file_prints_a_line_per_finished_cell(tmp_path, cli_inproc, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\nwidth = [2, 3]\n')
    result = cli_inproc("run", str(path))
    assert result.returncode == 0, result.stderr
    done = [line for line in result.stdout.splitlines() if ": ok in " in line]
    assert [line.split(":")[0] for line in done] == [
        "cell 1/2 test-tiny width=2",
        "cell 2/2 test-tiny width=3",
    ]
    # the median with its unit, then the mark where the machine was busy (this one is shared)
    assert all(re.search(r"\(fwd \d+\.\d+ ms( †)?\)$", line) for line in done), done
    header = next(line for line in result.stdout.splitlines() if "GFLOPs/clip*" in line)
    assert "label" in header and "status" in header  # the summary's header on one line


def test_models_sort_naturally():
    names = ["mtnet-132", "mtnet-32", "mtnet-200", "mtnet-48", "mtnet-l", "r3d-18"]
    ordered = sorted(names, key=natural_key)
    assert ordered == ["mtnet-32", "mtnet-48", "mtnet-132", "mtnet-200", "mtnet-l", "r3d-18"]


def test_models_at_80_columns_wrap_between_keyword_arguments():
    entry = SimpleNamespace(
        name="mtnet-132",
        family="mtnet",
        origin="built-in",
        kwargs={f"argument_{k}": k * 1000 for k in range(12)},
        doc="MTNet-132 (Stergiou and Poppe): multi-temporal convolutions, " * 3,
    )
    text = _model_blocks([entry], 80)
    lines = text.splitlines()
    assert lines[2] == "mtnet-132  (mtnet, built-in)"
    assert all(len(line) <= 80 for line in lines)
    kwargs = " ".join(line.strip() for line in lines[3:] if "argument_" in line)
    assert kwargs == ", ".join(f"argument_{k}={k * 1000}" for k in range(12))
    for line in lines[3:]:
        assert line.startswith("    ") and not line.rstrip().endswith("_")
