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

from dataclasses import dataclass, field
from typing import Any

from mtbench.checks import parse_value
from mtbench.errors import UsageError, did_you_mean
from mtbench.suite.launcher_fields import LAUNCHER_FIELDS, time_minutes


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
