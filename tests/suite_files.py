"""Suites the tests write: a one-model suite file around `models`, the cells a suite's
defaults give, and the problems a bad suite is refused with."""

import textwrap
from pathlib import Path

import pytest

from mtbench.suite.grid import load_suite
from mtbench.suite.schema import SuiteError


def suite_file(tmp_path, models: str, measure='["params", "flops", "latency_fwd"]'):
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(f"""
        [suite]
        name = "s"
        output = "{tmp_path / "out"}"
        [defaults]
        device = "cpu"
        input = [1, 3, 4, 16, 16]
        warmup = 0
        repeats = 2
        measure = {measure}
        """)
        + textwrap.dedent(models)
    )
    return path


def suite_cells(tmp_path: Path, defaults: str) -> list:
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(f"""
        [suite]
        name = "s"
        [defaults]
        input = [1, 3, 2, 16, 16]
        {defaults}
        [[models]]
        name = "r3d-18"
        """)
    )
    return load_suite(path)[1]


def problems_of(path) -> list[str]:
    with pytest.raises(SuiteError) as err:
        load_suite(path)[1]
    return err.value.problems
