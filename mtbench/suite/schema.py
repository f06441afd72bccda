"""The suite file: TOML sections, their keys, and validation that reports every problem.

    [suite]      name, description, output, imports (modules or .py files that register
                 models, imported before the models are validated)
    [defaults]   how every cell is measured (device, input, batch_size, dtype, warmup,
                 repeats, measure, threads, channels_last, compile, compile_mode,
                 cudnn_benchmark, cuda_graphs, amp, count_norm)
    [data]       a dataset: with it, every cell trains and evaluates (mtbench.suite.workload)
    [train]      how to train; [eval] how to evaluate (both need [data])
    [launcher]   where cells run, and their SLURM resources (mtbench.launch.settings)
    [[models]]   name (or a list of names), optional label, model keyword arguments, and
                 per-model overrides of any [defaults] key or any workload key as a dotted key
                 (`train.seed = [0, 1]`); a list value expands into a grid

A section is a table of `Field`s. Problems are collected, not raised one by one, so a user
fixes a file in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from mtbench.checks import (
    Field,
    string,
    strings,
)
from mtbench.errors import did_you_mean
from mtbench.options import suite_fields
from mtbench.suite.launcher_fields import LAUNCHER_FIELDS
from mtbench.suite.workload import (
    WORKLOAD_LIST_VALUED,
    WORKLOAD_SECTIONS,
    flatten_overrides,
)


class SuiteError(Exception):
    """One or more problems in a suite file, each a line `file: key.path: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


SUITE_FIELDS = {
    "name": Field(string, "suite name; results go to reports/<name> unless `output` is set"),
    "description": Field(string, "one line on what the suite answers", ""),
    "output": Field(string, "output folder (default reports/<name>)"),
    "imports": Field(
        strings, "modules or .py files (relative to the suite) that register models", []
    ),
}

# Each is also a per-model override; `input` and `measure` hold lists, so their grid form
# is a list of lists.
DEFAULT_FIELDS = suite_fields()
LIST_VALUED = {"input", "measure"}


def model_names(v: Any) -> str | None:
    """A model name, or a non-empty list of them (a grid over models)."""
    if isinstance(v, list) and v:
        return next((why for name in v if (why := string(name)) is not None), None)
    return string(v)


MODEL_FIELDS = {
    "name": Field(model_names, "registered model name (mtbench models); a list expands too"),
    "label": Field(string, "name in plots and tables; may use {kwarg} placeholders"),
}

SECTIONS = ("suite", "defaults", "data", "train", "eval", "launcher", "models")


@dataclass
class SuiteSpec:
    """A parsed, type-checked suite; grid expansion and model validation come after."""

    path: Path
    name: str
    description: str
    output: Path
    defaults: dict[str, Any]
    models: list[dict[str, Any]]
    imports: list[str]
    problems: list[str] = field(default_factory=list)
    # [data], [train], [eval] as written (keys checked), or None for a measure-only suite.
    workload: dict[str, dict[str, Any]] | None = None
    input_set: bool = False  # [defaults] names `input`; else a training suite measures its clip
    # Annotations read while expanding, per DataConfig (None where reading failed).
    annotations: dict[Any, Any] = field(default_factory=dict)
    launcher: dict[str, Any] = field(default_factory=dict)  # [launcher] as written (checked)
    # The exceptions behind problems (a builder's failure): the SuiteError's cause, for --debug.
    causes: list[Exception] = field(default_factory=list)

    def problem(self, key: str, message: str, cause: Exception | None = None) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")
        if cause is not None:
            self.causes.append(cause)

    def error(self) -> SuiteError:
        """Every problem in one SuiteError, caused by the first exception behind them, so
        that a traceback asked for (--debug) shows its frames."""
        error = SuiteError(self.problems)
        error.__cause__ = self.causes[0] if self.causes else None
        return error


def load_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError([f"{path}: cannot read: {exc.strerror or exc}"]) from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError([f"{path}: invalid TOML: {exc}"]) from exc


def _check_value(spec: SuiteSpec, key: str, fld: Field, value: Any, grid: bool) -> None:
    """Check a value, or each value of a grid (a list; a list of lists for list-valued keys)."""
    if grid:
        if not value:
            spec.problem(key, "empty list: the grid has no cells")
        for item in value:
            if (why := fld.check(item)) is not None:
                spec.problem(key, why)
    elif (why := fld.check(value)) is not None:
        spec.problem(key, why)


def is_grid(key: str, value: Any) -> bool:
    """A list expands into a grid; for list-valued keys only a list of lists does."""
    if key in LIST_VALUED or key in WORKLOAD_LIST_VALUED:
        return isinstance(value, list) and bool(value) and isinstance(value[0], list)
    return isinstance(value, list)


def parse_suite(path: str | Path, raise_problems: bool = True) -> SuiteSpec:
    """Read and type-check a suite; raises SuiteError listing every problem found, unless
    `raise_problems` is false (then they wait in `spec.problems` for the grid's checks)."""
    path = Path(path)
    data = load_toml(path)
    spec = SuiteSpec(path, "", "", Path(), {}, [], [])
    for section in data:
        if section not in SECTIONS:
            spec.problem(
                f"[{section}]",
                f"unknown section{did_you_mean(section, list(SECTIONS))};"
                f" sections: {', '.join(SECTIONS)}",
            )
    _parse_suite_table(spec, data)
    defaults = _table(spec, data, "defaults", DEFAULT_FIELDS)
    spec.defaults = {k: defaults.get(k, f.default) for k, f in DEFAULT_FIELDS.items()}
    spec.input_set = "input" in defaults
    _parse_workload(spec, data)
    spec.launcher = _table(spec, data, "launcher", LAUNCHER_FIELDS)
    _parse_models(spec, data.get("models"))
    if spec.problems and raise_problems:
        raise SuiteError(spec.problems)
    return spec


def _table(
    spec: SuiteSpec, data: dict[str, Any], section: str, fields: dict[str, Field]
) -> dict[str, Any]:
    """An optional section, checked key by key; {} when absent or not a table."""
    table = data.get(section, {})
    if not isinstance(table, dict):
        spec.problem(f"[{section}]", "expected a table")
        return {}
    _check_table(spec, section, table, fields)
    return table


def _parse_suite_table(spec: SuiteSpec, data: dict[str, Any]) -> None:
    suite = data.get("suite")
    if not isinstance(suite, dict):
        spec.problem("[suite]", "missing: a suite needs [suite] with at least `name`")
        suite = {}
    _check_table(spec, "suite", suite, SUITE_FIELDS)
    if "name" not in suite:
        spec.problem("suite.name", "missing")
    spec.name = str(suite.get("name", spec.path.stem))
    spec.description = str(suite.get("description", ""))
    spec.output = Path(suite.get("output") or Path("reports") / spec.name)
    imports = suite.get("imports", [])
    spec.imports = list(imports) if strings(imports) is None else []


def _parse_models(spec: SuiteSpec, models: Any) -> None:
    """[[models]]: each entry's keys checked; entries with a valid name go on to the grid."""
    if not isinstance(models, list) or not models:
        spec.problem("models", "no [[models]] entries: a suite needs at least one model")
        models = []
    for i, entry in enumerate(models):
        where = f"models[{i}]"
        if not isinstance(entry, dict):
            spec.problem(where, "expected a table ([[models]])")
            continue
        if "name" not in entry:
            spec.problem(f"{where}.name", "missing")
        entry = flatten_overrides(entry)
        for key, value in entry.items():
            fld = MODEL_FIELDS.get(key) or DEFAULT_FIELDS.get(key)
            if "." in key:
                _check_override(spec, where, key, value)
            elif fld is not None:
                grid = key != "label" and is_grid(key, value)
                _check_value(spec, f"{where}.{key}", fld, value, grid)
            elif isinstance(value, list) and not value:
                spec.problem(f"{where}.{key}", "empty list: the grid has no cells")
        if "name" in entry and model_names(entry["name"]) is None:
            spec.models.append(entry)


def _parse_workload(spec: SuiteSpec, data: dict[str, Any]) -> None:
    """[data], [train], [eval]: checked key by key; [train] or [eval] alone is a mistake."""
    tables = {}
    for section, fields in WORKLOAD_SECTIONS.items():
        table = data.get(section, {})
        if not isinstance(table, dict):
            spec.problem(f"[{section}]", "expected a table")
            table = {}
        _check_table(spec, section, table, fields)
        tables[section] = table
    if "data" in data:
        if "dataset" not in tables["data"]:
            spec.problem("data.dataset", "missing: which dataset layout to read")
        spec.workload = tables
    else:
        for section in ("train", "eval"):
            if section in data:
                spec.problem(f"[{section}]", "needs a [data] section naming the dataset")


def _check_override(spec: SuiteSpec, where: str, key: str, value: Any) -> None:
    """A dotted per-model key (`train.seed`): its section must exist and know the key."""
    section, _, name = key.partition(".")
    fields = WORKLOAD_SECTIONS.get(section)
    if fields is None or name not in fields:
        valid = [f"{s}.{k}" for s, f in WORKLOAD_SECTIONS.items() for k in f]
        spec.problem(f"{where}.{key}", f"unknown key{did_you_mean(key, valid)}")
    elif spec.workload is None:
        spec.problem(f"{where}.{key}", "needs a [data] section: this suite does not train")
    else:
        _check_value(spec, f"{where}.{key}", fields[name], value, is_grid(key, value))


def _check_table(spec: SuiteSpec, section: str, table: dict[str, Any], fields: dict) -> None:
    for key, value in table.items():
        if key not in fields:
            spec.problem(
                f"{section}.{key}",
                f"unknown key{did_you_mean(key, list(fields))}; keys: {', '.join(fields)}",
            )
        else:
            _check_value(spec, f"{section}.{key}", fields[key], value, grid=False)
