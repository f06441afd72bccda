"""Killed mid-run and re-run, a training suite ends with exactly the weights of a run that was
never interrupted (CPU, same seed), with 0 and with 2 DataLoader workers."""

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


def run(suite: Path, out: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, ENTRY, "run", str(suite), "--output", str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def checkpoint(out: Path) -> dict:
    (path,) = out.glob("cells/*/last.pt")
    return torch.load(path, weights_only=False)


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("workers", [0, 2])
def test_sigkill_after_a_checkpoint_then_rerun_gives_identical_weights(tmp_path, workers):
    suite = tmp_path / "suite.toml"
    suite.write_text(textwrap.dedent(SUITE.format(workers=workers)))
    straight = run(suite, tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr

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
    a, b = checkpoint(tmp_path / "straight"), checkpoint(out)
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    states = zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values(), strict=True)
    for sa, sb in states:
        assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])
    (ra,), (rb,) = read_records(tmp_path / "straight"), read_records(out)
    assert ra["top1"] == rb["top1"] and ra["final_train_loss"] == rb["final_train_loss"]
    log = (next(out.glob("cells/*")) / "train_log.jsonl").read_text().splitlines()
    assert len(log) == 6  # the killed run's partial epoch left no duplicate line
