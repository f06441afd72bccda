"""A training that stops where a test wants to interrupt it: with MTBENCH_TEST_HOLD_EPOCH=N in
the environment of the process that imports this module, the trainer writes the checkpoint of
epoch N and then waits to be killed or signalled instead of training on. A test waits for that
checkpoint, then kills the run: the kill always lands after epoch N and before epoch N + 1,
however loaded the machine, and the checkpoint is the one a resume starts from.

A signal handler (submitit's USR2 requeue) still runs during the wait. Unset, nothing changes."""

import os
import threading
from pathlib import Path
from typing import Any

HOLD = "MTBENCH_TEST_HOLD_EPOCH"
HOLD_BOUND_S = 600  # a test that never kills the run fails instead of hanging


def _install(epoch: int) -> None:
    import mtbench.train.trainer as trainer

    save = trainer.save_checkpoint

    def save_then_hold(path: Path, state: dict[str, Any]) -> None:
        save(path, state)
        if state["epoch"] == epoch and not threading.Event().wait(HOLD_BOUND_S):
            raise RuntimeError(f"{HOLD}={epoch}: held {HOLD_BOUND_S} s and nobody stopped the run")

    trainer.save_checkpoint = save_then_hold


if os.environ.get(HOLD):
    _install(int(os.environ[HOLD]))
