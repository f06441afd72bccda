"""Every value of the shipped suites, replaced by a value of another type: the suite is refused
with `error:` lines and exit 2 (or still valid, exit 0), never a traceback. No value of the
wrong type reaches the code that uses it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import tomllib

SUITES = Path(__file__).resolve().parents[1] / "suites"
# Between them every section of a suite: [suite], [defaults], [data], [train], [eval] and
# [[models]] with keyword arguments, grids and dotted overrides.
MUTATED = ("smoke.toml", "train-smoke.toml")


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def toml_text(data: dict[str, Any]) -> str:
    """A suite as TOML: tables of key = value, [[models]] as an array of tables."""
    lines = []
    for section, table in data.items():
        for entry in table if isinstance(table, list) else [table]:
            lines.append(f"[[{section}]]" if isinstance(table, list) else f"[{section}]")
            lines += [f"{key} = {toml_value(value)}" for key, value in entry.items()]
    return "\n".join(lines) + "\n"


def other_type(value: Any) -> Any:
    """A value of another TOML type than `value`'s."""
    if isinstance(value, bool):
        return 7
    if isinstance(value, int | float):
        return "seven"
    if isinstance(value, str):
        return 112
    if isinstance(value, list):
        return {"a": 1} if value and isinstance(value[0], list) else [[1], ["x"]]
    return ["x"]


def places(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(section, index or None, key) of every value in the suite."""
    found = []
    for section, table in data.items():
        for i, entry in enumerate(table if isinstance(table, list) else [table]):
            found += [(section, i if isinstance(table, list) else None, k) for k in entry]
    return found


def mutated(data: dict[str, Any], *where: tuple[Any, ...]) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    for section, index, key in where:
        table = copy[section] if index is None else copy[section][index]
        table[key] = other_type(table[key])
    return copy


def refused_or_valid(data: dict[str, Any], path: Path, cli_inproc) -> int:
    """Run the suite with --dry-run: exit 0, or exit 2 with every line an error of the file."""
    path.write_text(toml_text(data))
    result = cli_inproc("run", str(path), "--dry-run")
    assert result.returncode in (0, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith(f"error: {path}: ")
        assert all(line.startswith(("error:", str(path))) for line in lines), lines
    return result.returncode


CASES = [
    (name, place)
    for name in MUTATED
    for place in places(tomllib.loads((SUITES / name).read_text()))
]


@pytest.mark.parametrize(("name", "place"), CASES, ids=[f"{n}:{p}" for n, p in CASES])
def test_a_value_of_another_type_is_an_error_line(name, place, tmp_path, cli_inproc):
    data = mutated(tomllib.loads((SUITES / name).read_text()), place)
    if place != ("suite", None, "output"):
        data["suite"]["output"] = str(tmp_path / "out")
    refused_or_valid(data, tmp_path / name, cli_inproc)


@pytest.mark.parametrize("name", MUTATED)
def test_a_suite_with_every_value_of_another_type_is_refused(name, tmp_path, cli_inproc):
    data = tomllib.loads((SUITES / name).read_text())
    assert refused_or_valid(mutated(data, *places(data)), tmp_path / name, cli_inproc) == 2


def test_the_writer_round_trips_every_mutated_suite():
    for name in MUTATED:
        data = tomllib.loads((SUITES / name).read_text())
        assert tomllib.loads(toml_text(data)) == data
