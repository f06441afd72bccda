"""Killed mid-run and re-run, a training suite ends with exactly the weights of a run that was
never interrupted (CPU, same seed), with 0 and with 2 DataLoader workers: one uninterrupted run
with 0 workers is the reference of both (the workers only fetch; they change no number)."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from checkpoint_hold import HOLD
from train_suite import ENTRY, HOLD_AT, SUITE
from waiting import wait_for_checkpoint

from mtbench.suite.store import read_records

# One worker runs the uninterrupted reference once for both tests (tests/serial_last.py).
pytestmark = pytest.mark.xdist_group("train-resume")


def run(suite: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, ENTRY, "run", str(suite), "--output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def checkpoint(out: Path) -> dict:
    (path,) = out.glob("cells/*/last.pt")
    return torch.load(path, weights_only=False)


def write_suite(folder: Path, workers: int) -> Path:
    suite = folder / "suite.toml"
    suite.write_text(textwrap.dedent(SUITE.format(workers=workers)))
    return suite


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """The store of the uninterrupted run (0 workers), trained once for both tests."""
    folder = tmp_path_factory.mktemp("straight")
    done = run(write_suite(folder, 0), folder / "out")
    assert done.returncode == 0, done.stderr
    return folder / "out"


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_after_a_checkpoint_then_rerun_gives_identical_weights(tmp_path, workers, straight):
    suite = write_suite(tmp_path, workers)
    out = tmp_path / "killed"
    cmd = [sys.executable, ENTRY, "run", str(suite), "--output", str(out)]
    held = {**os.environ, HOLD: str(HOLD_AT)}  # trains no further than epoch HOLD_AT
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=held)
    try:
        wait_for_checkpoint("cells/*/last.pt", out, HOLD_AT, timeout=240)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert checkpoint(out)["epoch"] == HOLD_AT
    assert read_records(out) == []

    resumed = run(suite, out)
    assert resumed.returncode == 0, resumed.stderr
    a, b = checkpoint(straight), checkpoint(out)
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    states = zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True)
    for sa, sb in states:
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    (ra,), (rb,) = read_records(straight), read_records(out)
    assert ra["top1"] == rb["top1"] and ra["final_train_loss"] == rb["final_train_loss"]
    log = (next(out.glob("cells/*")) / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 6  # the killed run's partial epoch left no duplicate line
