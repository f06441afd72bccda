"""The `[launcher]` section's keys, beside the other sections of a suite file: where its
cells run and, on SLURM, with what resources (`mtbench.launch.settings` reads them)."""

from __future__ import annotations

import re
from typing import Any

from mtbench.checks import Field, choice, non_negative_int, positive_int, string

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
    "name": Field(choice(LAUNCHERS), "where cells run: local or slurm", "local"),
    "partition": Field(string, "SLURM partition (default: the cluster's)"),
    "account": Field(string, "SLURM account to charge"),
    "qos": Field(string, "SLURM quality of service"),
    "time": Field(_time, "time limit per task: minutes or '[D-]HH:MM[:SS]'", 60),
    "gpus": Field(non_negative_int, "GPUs per cell process (a DDP cell: per rank)", 0),
    "cpus": Field(positive_int, "CPUs per cell process", 1),
    "mem_gb": Field(_gigabytes, "memory per cell process, GB (default: the cluster's)"),
    "cells_per_task": Field(positive_int, "measure-only cells run in turn in one task", 1),
    "array_parallelism": Field(positive_int, "most tasks of one array running at once", 256),
    "nodes": Field(positive_int, "nodes per training cell (DDP across nodes)", 1),
    "nproc_per_node": Field(positive_int, "training cells: DDP ranks per node", 1),
    "timeout_requeues": Field(non_negative_int, "requeues of a task that hits `time`", 3),
    "sbatch_args": Field(_flags, "extra sbatch flags, e.g. ['--constraint=a100']", []),
    "folder": Field(string, "submitit's scripts and logs (default: <output>/slurm)"),
}
