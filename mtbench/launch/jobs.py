"""What the SLURM launcher submitted, and what SLURM says of it now.

Each submission is journaled in the store's folder (`slurm/submitted.d/`, one file per
submitting process, like the store's records), one line per cell with its job id, so a
re-run submits only what is missing and `mtbench status` can name each cell's job. Job
states come from `squeue`, and from `sacct` where accounting is enabled.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from pathlib import Path
from typing import Any

from mtbench.suite.store import append_line, latest_by_cell, read_lines

SUBMITTED_DIR = Path("slurm") / "submitted.d"
# squeue lists finished jobs for a short while (MinJobAge); these states have ended.
ENDED = {
    "BOOT_FAIL",
    "CANCELLED",
    "COMPLETED",
    "DEADLINE",
    "FAILED",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "TIMEOUT",
}


def journal(folder: Path, entries: list[dict[str, Any]]) -> None:
    for entry in entries:
        append_line(folder / SUBMITTED_DIR, entry)


def submissions(folder: Path) -> dict[str, dict[str, Any]]:
    """The latest submission of each cell_key."""
    return latest_by_cell(read_lines(sorted((folder / SUBMITTED_DIR).glob("*.jsonl"))).records)


def queued_states(job_ids: set[str]) -> dict[str, str] | None:
    """SLURM state of each of `job_ids` that squeue still lists (array tasks one by one);
    None when there is no squeue to ask."""
    if shutil.which("squeue") is None:
        return None
    cmd = ["squeue", "--noheader", "--array", "--format=%i|%T", f"--user={getpass.getuser()}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return None
    states = {}
    for line in out.stdout.splitlines():
        job, _, state = line.strip().partition("|")
        if job in job_ids:
            states[job] = state
    return states


def accounted_states(job_ids: set[str]) -> dict[str, str]:
    """Final states from sacct; empty where accounting is disabled ("Slurm accounting
    storage is disabled") or sacct is missing."""
    if not job_ids or shutil.which("sacct") is None:
        return {}
    cmd = ["sacct", "--noheader", "--parsable2", "--allocations", "--format=JobID,State"]
    cmd += [f"--jobs={','.join(sorted(job_ids))}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return {}
    states = {}
    for line in out.stdout.splitlines():
        job, _, state = line.partition("|")
        if job in job_ids:
            states[job] = state.split()[0] if state else "UNKNOWN"
    return states


def is_active(state: str | None) -> bool:
    """Pending, running, requeued, completing...: a cell in such a job is not resubmitted."""
    return state is not None and state not in ENDED
