"""Whether this process's SLURM task is being requeued (preempted or out of time).

submitit requeues a task from its signal handler, which runs inside whatever the task was
doing: an error the requeue raises there (`scontrol requeue` killed by the SIGTERM that the
requeue itself sends the job) surfaces in the cell being run. Such an error is the requeue's,
not the cell's: the runner lets it end the task instead of recording the cell as failed, and
the requeued task runs the cell again from its checkpoint.
"""

from __future__ import annotations

_requeuing = False


def mark_requeuing() -> None:
    """Called by the task's checkpoint method, which submitit calls before it requeues."""
    global _requeuing
    _requeuing = True


def requeuing() -> bool:
    return _requeuing
