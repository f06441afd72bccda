"""Grid expansion: a suite's [[models]] entries become an ordered list of cells.

Order is deterministic: entries in file order; within an entry, the cartesian product of
its list-valued keys in the order they are written, the last key varying fastest.
A cell's key is a hash of its whole resolved configuration (model, keyword arguments,
input and every measurement option), so any change to what is measured is a new cell and
re-running an unchanged suite finds the cells already done.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from mtbench.errors import did_you_mean
from mtbench.model_sources import import_models, resolving_from
from mtbench.options import ProfileOptions, options_from
from mtbench.record import CellPart
from mtbench.registry import ModelConfigError, check_input, check_model_kwargs, validate_model
from mtbench.suite.schema import (
    DEFAULT_FIELDS,
    MODEL_FIELDS,
    SuiteError,
    SuiteSpec,
    is_grid,
    parse_suite,
)
from mtbench.suite.workload import Workload, flatten_overrides, workload_defaults


@dataclass(frozen=True)
class Cell:
    """One model configuration under one measurement setting."""

    index: int
    source: int  # which [[models]] entry it came from
    model: str
    kwargs: dict[str, Any]
    input_shape: list[int]
    options: ProfileOptions
    label: str
    key: str
    workload: Workload | None = None  # set when the suite trains and evaluates

    def config(self) -> dict[str, Any]:
        return cell_config(self.model, self.kwargs, self.input_shape, self.options, self.workload)


def cell_part(suite: str, cell: Cell, key: str | None = None) -> CellPart:
    """What a stored record says of its cell: the suite, the key (the cell's own, or that of
    the same cell evaluated with other views), the label, and a training cell's workload."""
    part = CellPart(suite=suite, cell_key=key or cell.key, label=cell.label)
    if cell.workload is not None:
        part.update(workload=cell.workload.config(), seed_group=seed_group(cell))
    return part


def seed_group(cell: Cell) -> str:
    """Cells that differ only in train.seed share this key: reports average over them."""
    config = cell.config()
    config["workload"]["train"] = {**config["workload"]["train"], "seed": None}
    return cell_key(config)


def cell_config(
    model: str,
    kwargs: dict[str, Any],
    input_shape: list[int],
    options: ProfileOptions,
    workload: Workload | None = None,
) -> dict[str, Any]:
    config = {
        "model": model,
        "kwargs": kwargs,
        "input_shape": input_shape,
        "options": {**options.key_options(), "measure": sorted(options.measure)},
    }
    # Measure-only cells keep the keys they had before training existed, so old stores resume.
    if workload is not None:
        config["workload"] = workload.config()
    return config


def cell_key(config: dict[str, Any]) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return "x".join(map(str, value))
    return f"{value:g}" if isinstance(value, float) else str(value)


def default_label(model: str, varied: dict[str, Any]) -> str:
    return " ".join([model, *(f"{k}={_format_value(v)}" for k, v in varied.items())])


def _workload(spec: SuiteSpec, combo: dict[str, Any]) -> Workload | None:
    """The suite's [data]/[train]/[eval] with this cell's dotted overrides, defaults filled."""
    if spec.workload is None:
        return None
    sections = {}
    for section, table in spec.workload.items():
        overrides = {
            k.partition(".")[2]: v for k, v in combo.items() if k.startswith(section + ".")
        }
        sections[section] = workload_defaults(section, {**table, **overrides})
    return Workload(**sections)


def _expand_entry(entry: dict[str, Any]) -> list[dict[str, Any]]:
    keys = [k for k in entry if k not in MODEL_FIELDS]
    axes = [entry[k] if is_grid(k, entry[k]) else [entry[k]] for k in keys]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes)]


def expand(spec: SuiteSpec) -> list[Cell]:
    """Every cell of the suite; raises SuiteError with every problem, the schema's included.

    Models are checked even when the schema has problems, so one run reports them all;
    cells are only built from a schema without problems.
    """
    grid = _Grid(spec, schema_ok=not spec.problems)
    for i, entry in enumerate(spec.models):
        names = entry["name"] if isinstance(entry["name"], list) else [entry["name"]]
        for name in names:
            grid.add_model(i, name, flatten_overrides(entry))
    if spec.problems:
        raise spec.error()
    return grid.cells


@dataclass
class _Grid:
    """The cells expanded so far, and what was seen: duplicates and problems once each."""

    spec: SuiteSpec
    schema_ok: bool
    cells: list[Cell] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # cell key -> where it came from
    reported: set[tuple[str, str]] = field(default_factory=set)

    def problem(self, where: str, message: str, cause: Exception | None = None) -> None:
        if (where, message) not in self.reported:
            self.reported.add((where, message))
            self.spec.problem(where, message, cause)

    def add_model(self, source: int, name: str, entry: dict[str, Any]) -> None:
        """The cells of one model of one [[models]] entry, or its problems."""
        where = f"models[{source}]"
        kwarg_names = self._kwarg_names(where, name, entry)
        if kwarg_names is None:
            return
        # The default label names every keyword argument, and any option or workload key varied.
        label_keys = [
            k for k in entry if k in kwarg_names or (k not in MODEL_FIELDS and is_grid(k, entry[k]))
        ]
        for combo in _expand_entry(entry):
            kwargs = {k: combo[k] for k in kwarg_names}
            workload = _workload(self.spec, combo) if self.schema_ok else None
            if workload is not None:
                # Every training cell's data is read before anything runs, whatever num_classes.
                classes = dataset_classes(self.spec, workload)
                if classes is None:
                    continue
                kwargs.setdefault("num_classes", classes)
            model = _meta_model(self, where, name, kwargs)
            if model is None or not self.schema_ok:
                continue
            shape, options = self._settings(combo, workload)
            if self._runtime_problems(where, combo, options):
                continue
            problems = options.scenario_problems(window=shape[2], training=workload is not None)
            if self._report(where, combo, problems):
                continue
            if self._quantized_problems(where, combo, options, workload, shape):
                continue
            if (why := check_input(name, kwargs, shape, model)) is not None:
                self.problem(where, why)
                continue
            label = _label(self, where, entry, name, combo, label_keys)
            self._add(
                Cell(len(self.cells), source, name, kwargs, shape, options, label, "", workload),
                where,
            )

    def _kwarg_names(self, where: str, name: str, entry: dict[str, Any]) -> list[str] | None:
        """The entry's model keyword arguments, or None after recording the unknown ones."""
        names = [k for k in entry if k not in MODEL_FIELDS and k not in DEFAULT_FIELDS]
        names = [k for k in names if "." not in k]
        try:
            model_entry = check_model_kwargs(name, {})
        except ModelConfigError as exc:
            self.spec.problem(f"{where}.name", exc.detail)
            return None
        bad = [k for k in names if k not in model_entry.kwargs]
        for key in bad:
            valid = [*model_entry.kwargs, *DEFAULT_FIELDS, *MODEL_FIELDS]
            self.spec.problem(
                f"{where}.{key}",
                f"{name} has no keyword argument {key!r}{did_you_mean(key, valid)};"
                f" valid: {', '.join(model_entry.kwargs)}",
            )
        return None if bad else names

    def _settings(
        self, combo: dict[str, Any], workload: Workload | None
    ) -> tuple[list[int], ProfileOptions]:
        """The cell's clip shape and options: the suite's defaults, then the entry's values.
        A training suite without an `input` measures its training clip."""
        spec = self.spec
        settings = {**spec.defaults, **{k: v for k, v in combo.items() if k in DEFAULT_FIELDS}}
        shape = list(settings["input"])
        if workload is not None and "input" not in combo and not spec.input_set:
            crop = workload.data["crop"]
            shape = [1, 3, workload.data["frames"], crop, crop]
        if settings["batch_size"] is not None:
            shape[0] = settings["batch_size"]
        return shape, options_from(settings)

    def _runtime_problems(self, where: str, combo: dict[str, Any], options: ProfileOptions) -> bool:
        """Record the options the cell's runtime cannot run with (a runtime with `compile`,
        ...), each under the key that set it; True when there was any."""
        return self._report(where, combo, options.runtime_problems())

    def _report(self, where: str, combo: dict[str, Any], problems: list[tuple[str, str]]) -> bool:
        """Record each problem under the key that set it; True when there was any."""
        for key, message in problems:
            self.problem(f"{where}.{key}" if key in combo else f"defaults.{key}", message)
        return bool(problems)

    def _quantized_problems(
        self,
        where: str,
        combo: dict[str, Any],
        options: ProfileOptions,
        workload: Workload | None,
        shape: list[int],
    ) -> bool:
        """An accuracy gate needs [data]; an INT8 cell with [data] is calibrated and gated on
        the data's clips, so its input is that clip. True when there was a problem."""
        found = []
        if options.require_accuracy is not None and workload is None:
            why = "a gate needs [data]: the network is evaluated on the cell's test clips"
            found.append(("require_accuracy", why))
        if options.dtype == "int8" and workload is not None:
            clip = [workload.data["frames"], workload.data["crop"], workload.data["crop"]]
            if shape[2:] != clip:
                why = (
                    f"an INT8 cell with [data] runs the data's clips ({'x'.join(map(str, clip))}"
                    f" frames x crop); its input is {'x'.join(map(str, shape[2:]))}"
                )
                found.append(("input", why))
        for key, message in found:
            self.problem(f"{where}.{key}" if key in combo else f"defaults.{key}", message)
        return bool(found)

    def _add(self, cell: Cell, where: str) -> None:
        key = cell_key(
            cell_config(cell.model, cell.kwargs, cell.input_shape, cell.options, cell.workload)
        )
        if key in self.seen:
            self.spec.problem(
                where, f"duplicate cell {cell.label!r}: same configuration as {self.seen[key]}"
            )
            return
        self.seen[key] = f"{where} ({cell.label})"
        self.cells.append(replace(cell, key=key))


def dataset_classes(spec: SuiteSpec, workload: Workload) -> int | None:
    """The class count of the cell's dataset (read once per data section), or None after
    recording why the annotations cannot be read (missing root, bad split file, ...)."""
    from mtbench.data import DataError, read_annotations
    from mtbench.data.decode import check_decoder

    config = workload.data_config()
    if config not in spec.annotations:
        try:
            check_decoder(config)
            spec.annotations[config] = read_annotations(config)
        except DataError as exc:
            spec.annotations[config] = None
            line = f"{spec.path}: data: {exc}"
            if line not in spec.problems:  # one line per problem, not per cell
                spec.problems.append(line)
    annotations = spec.annotations[config]
    return None if annotations is None else len(annotations.classes)


def _meta_model(grid: _Grid, where: str, name: str, kwargs: dict[str, Any]) -> nn.Module | None:
    """The model built on the meta device, its own validation run; None after recording
    why it cannot be built."""
    try:
        return validate_model(name, **kwargs)
    except ModelConfigError as exc:
        line = f"{where}.{exc.key}" if exc.key else where
        grid.problem(line, exc.detail if exc.key else f"{name} {kwargs}: {exc.detail}", exc)
        return None


def _label(
    grid: _Grid,
    where: str,
    entry: dict[str, Any],
    name: str,
    combo: dict[str, Any],
    label_keys: list[str],
) -> str:
    template = entry.get("label")
    if template is None:
        return default_label(name, {k: combo[k] for k in label_keys})
    try:
        return template.format(name=name, **{k: _format_value(v) for k, v in combo.items()})
    except (KeyError, IndexError, ValueError) as exc:
        grid.problem(f"{where}.label", f"placeholder {exc} is not a key of this entry")
        return template


def load_suite(path: str | Path) -> tuple[SuiteSpec, list[Cell]]:
    """Parse, type-check and expand a suite file; SuiteError lists every problem at once.

    The suite's `imports` are imported first, so the models they register are validated
    like built-ins; relative paths in them and in model names are read from the suite's folder.
    """
    spec = parse_suite(path, raise_problems=False)
    with resolving_from(spec.path.parent):
        try:
            import_models(spec.imports, f"{spec.path}: suite.imports")
        except ModelConfigError as exc:
            raise SuiteError([*spec.problems, str(exc)]) from exc
        return spec, expand(spec)


def shard(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """Round-robin over the ordered cells: shards are disjoint, their union is the suite."""
    return [c for c in cells if c.index % count == index]
