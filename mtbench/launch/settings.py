"""A suite's `[launcher]` table: where its cells run and, on SLURM, with what resources.

    [launcher]
    name = "slurm"               # local (this process, the default) | slurm (submitit)
    partition = "gpu"            # sbatch --partition; account, qos likewise
    time = "04:00:00"            # per task: minutes or [D-]HH:MM[:SS]
    gpus = 1                     # per cell process (a DDP cell: per rank)
    cpus = 8                     # per cell process
    mem_gb = 32                  # per cell process
    cells_per_task = 4           # measure-only cells run one after another in one task
    nproc_per_node = 4           # training cells: DDP ranks per node (one GPU each)
    sbatch_args = ["--constraint=a100"]

The same keys can be given on the command line (`--launcher-opt KEY=VALUE`), which wins.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mtbench.errors import UsageError
from mtbench.suite.fields import Field, _choice, _non_negative_int, _positive_int, _string

LAUNCHERS = ("local", "slurm")
_TIME = re.compile(r"^(?:(\d+)-)?(\d+):(\d{2})(?::(\d{2}))?$")


def time_minutes(value: Any) -> int | None:
    """Minutes of a time limit: an integer of minutes or SLURM's '[D-]HH:MM[:SS]'."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value >= 1 else None
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = days * 1440 + hours * 60 + minutes + (1 if seconds else 0)
    return total if total >= 1 else None


def _time(v: Any) -> str | None:
    if time_minutes(v) is None:
        return f"expected minutes (an integer >= 1) or '[D-]HH:MM[:SS]', got {v!r}"
    return None


def _gigabytes(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    return None if ok else f"expected a number of GB > 0, got {v!r}"


def _flags(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(s, str) and s.startswith("--") for s in v)
    return None if ok else f"expected a list of sbatch flags, e.g. ['--constraint=a100'], got {v!r}"


LAUNCHER_FIELDS = {
    "name": Field(_choice(LAUNCHERS), "where cells run: local or slurm", "local"),
    "partition": Field(_string, "SLURM partition (default: the cluster's)"),
    "account": Field(_string, "SLURM account to charge"),
    "qos": Field(_string, "SLURM quality of service"),
    "time": Field(_time, "time limit per task: minutes or '[D-]HH:MM[:SS]'", 60),
    "gpus": Field(_non_negative_int, "GPUs per cell process (a DDP cell: per rank)", 0),
    "cpus": Field(_positive_int, "CPUs per cell process", 1),
    "mem_gb": Field(_gigabytes, "memory per cell process, GB (default: the cluster's)"),
    "cells_per_task": Field(_positive_int, "measure-only cells run in turn in one task", 1),
    "array_parallelism": Field(_positive_int, "most tasks of one array running at once", 256),
    "nodes": Field(_positive_int, "nodes per training cell (DDP across nodes)", 1),
    "nproc_per_node": Field(_positive_int, "training cells: DDP ranks per node", 1),
    "timeout_requeues": Field(_non_negative_int, "requeues of a task that hits `time`", 3),
    "sbatch_args": Field(_flags, "extra sbatch flags, e.g. ['--constraint=a100']", []),
    "folder": Field(_string, "submitit's scripts and logs (default: <output>/slurm)"),
}


@dataclass(frozen=True)
class LauncherSettings:
    name: str = "local"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: int | str = 60
    gpus: int = 0
    cpus: int = 1
    mem_gb: float | None = None
    cells_per_task: int = 1
    array_parallelism: int = 256
    nodes: int = 1
    nproc_per_node: int = 1
    timeout_requeues: int = 3
    sbatch_args: list[str] = field(default_factory=list)
    folder: str | None = None

    @property
    def minutes(self) -> int:
        return time_minutes(self.time) or 60


def launcher_settings(
    table: dict[str, Any], name: str | None = None, overrides: list[str] = ()
) -> LauncherSettings:
    """The suite's [launcher] table (already checked), then `--launcher-opt KEY=VALUE`
    overrides, then `--launcher NAME`; a bad override is a one-line UsageError."""
    from mtbench.cli import parse_value
    from mtbench.suite.schema import did_you_mean

    values = dict(table)
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--launcher-opt {item!r}: expected KEY=VALUE, e.g. partition=gpu")
        if key not in LAUNCHER_FIELDS:
            raise UsageError(
                f"--launcher-opt {key}: unknown key{did_you_mean(key, list(LAUNCHER_FIELDS))};"
                f" keys: {', '.join(LAUNCHER_FIELDS)}"
            )
        value = parse_value(text.strip())
        if (why := LAUNCHER_FIELDS[key].check(value)) is not None:
            raise UsageError(f"--launcher-opt {key}: {why}")
        values[key] = value
    if name is not None:
        if (why := LAUNCHER_FIELDS["name"].check(name)) is not None:
            raise UsageError(f"--launcher: {why}")
        values["name"] = name
    return LauncherSettings(**values)
