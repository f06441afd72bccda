"""Waiting for a condition with a bound, never for a fixed time: a test polls what it needs
(a checkpoint of a given epoch, a record, a job gone from the queue) and fails naming it when
the bound passes, so a loaded machine makes a test slower, not flaky."""

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

POLL_S = 0.05


def poll_until(condition: Callable[[], object], timeout: float) -> bool:
    """Whether `condition()` came true within `timeout` s, polled every POLL_S."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    """Return once `condition()` is true; fail the test naming `what` after `timeout` s."""
    if not poll_until(condition, timeout):
        pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def checkpoint_epoch(path: Path) -> int | None:
    """The epoch a checkpoint holds; None while there is none. save_checkpoint renames a
    complete file into place, so a file that exists can be read whole."""
    return torch.load(path, weights_only=False)["epoch"] if path.exists() else None


def wait_for_checkpoint(pattern: str, folder: Path, epoch: int, timeout: float) -> Path:
    """The one `last.pt` under `folder` matching `pattern`, once it holds `epoch`."""

    def reached() -> bool:
        paths = list(folder.glob(pattern))
        return len(paths) == 1 and checkpoint_epoch(paths[0]) == epoch

    wait_until(reached, timeout, f"the checkpoint of epoch {epoch} under {folder}")
    (path,) = folder.glob(pattern)
    return path
