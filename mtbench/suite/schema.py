"""The suite file: TOML sections, their keys, and validation that reports every problem.

    [suite]      name, description, output, imports (modules or .py files that register
                 models, imported before the models are validated)
    [defaults]   how every cell is measured (device, input, batch_size, dtype, warmup,
                 repeats, measure, threads, channels_last, compile, compile_mode,
                 cudnn_benchmark, cuda_graphs, amp, count_norm, runtime, exporter)
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

from mtbench.deploy import EXPORTERS, check_runtime
from mtbench.launch.settings import LAUNCHER_FIELDS
from mtbench.measure.profile import COMPILE_MODES, DEVICES, DTYPES, MEASURES
from mtbench.registry import did_you_mean
from mtbench.suite.fields import (
    Field,
    _boolean,
    _choice,
    _is_int,
    _non_negative_int,
    _positive_int,
    _string,
    _strings,
)
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


def _input_shape(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) == 5 and all(_is_int(s) and s >= 1 for s in v)
    if not ok or v[1] != 3:
        return f"expected [B, 3, T, H, W] with positive integers, got {v!r}"
    return None


def _measures(v: Any) -> str | None:
    if not isinstance(v, list) or not v or not all(isinstance(m, str) for m in v):
        return f"expected a non-empty list of names from {', '.join(MEASURES)}, got {v!r}"
    unknown = [m for m in v if m not in MEASURES]
    return f"unknown {unknown}; choose from {', '.join(MEASURES)}" if unknown else None


SUITE_FIELDS = {
    "name": Field(_string, "suite name; results go to reports/<name> unless `output` is set"),
    "description": Field(_string, "one line on what the suite answers", ""),
    "output": Field(_string, "output folder (default reports/<name>)"),
    "imports": Field(
        _strings, "modules or .py files (relative to the suite) that register models", []
    ),
}

# Each is also a per-model override; `input` and `measure` hold lists, so their grid form
# is a list of lists.
DEFAULT_FIELDS = {
    "device": Field(_choice(DEVICES), "auto picks cuda when available", "auto"),
    "input": Field(_input_shape, "clip shape [B, 3, T, H, W]", [1, 3, 16, 112, 112]),
    "batch_size": Field(_positive_int, "replaces B of `input` when given"),
    "dtype": Field(_choice(tuple(DTYPES)), "float16 on CUDA only", "float32"),
    "warmup": Field(_non_negative_int, "untimed runs before timing", 3),
    "repeats": Field(_positive_int, "timed runs", 10),
    "measure": Field(_measures, "what to measure (default: all; forward only off PyTorch)"),
    "threads": Field(_positive_int, "CPU threads (torch.set_num_threads)"),
    "channels_last": Field(_boolean, "channels_last_3d memory format", False),
    "compile": Field(_boolean, "torch.compile before timing", False),
    "count_norm": Field(_boolean, "count norm layers in GFLOPs", True),
    "cudnn_benchmark": Field(_boolean, "cuDNN autotuning (default: on for CUDA)"),
    "compile_mode": Field(_choice(COMPILE_MODES), "torch.compile mode (with compile)", "default"),
    "cuda_graphs": Field(_boolean, "time by replaying a captured CUDA graph", False),
    "amp": Field(_boolean, "autocast to `dtype` with float32 weights", False),
    "runtime": Field(check_runtime, "what runs the timed forward (docs/deploy.md)", "pytorch"),
    "exporter": Field(_choice(EXPORTERS), "how the model leaves PyTorch for a runtime", "auto"),
}
LIST_VALUED = {"input", "measure"}

MODEL_FIELDS = {
    "name": Field(_string, "registered model name (mtbench models); a list expands too"),
    "label": Field(_string, "name in plots and tables; may use {kwarg} placeholders"),
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

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")


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

    suite = data.get("suite")
    if not isinstance(suite, dict):
        spec.problem("[suite]", "missing: a suite needs [suite] with at least `name`")
        suite = {}
    _check_table(spec, "suite", suite, SUITE_FIELDS)
    if "name" not in suite:
        spec.problem("suite.name", "missing")
    spec.name = str(suite.get("name", path.stem))
    spec.description = str(suite.get("description", ""))
    spec.output = Path(suite.get("output") or Path("reports") / spec.name)
    imports = suite.get("imports", [])
    spec.imports = list(imports) if _strings(imports) is None else []

    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        spec.problem("[defaults]", "expected a table")
        defaults = {}
    _check_table(spec, "defaults", defaults, DEFAULT_FIELDS)
    spec.defaults = {k: defaults.get(k, f.default) for k, f in DEFAULT_FIELDS.items()}
    spec.input_set = "input" in defaults

    _parse_workload(spec, data)

    launcher = data.get("launcher", {})
    if not isinstance(launcher, dict):
        spec.problem("[launcher]", "expected a table")
        launcher = {}
    _check_table(spec, "launcher", launcher, LAUNCHER_FIELDS)
    spec.launcher = launcher

    models = data.get("models")
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
        if "name" in entry:
            spec.models.append(entry)
    if spec.problems and raise_problems:
        raise SuiteError(spec.problems)
    return spec


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
