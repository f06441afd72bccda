"""The shipped train-smoke suite end to end, as CI runs it: both models learn the synthetic
motion classes well above chance, and the accuracy plots draw from the store."""

import subprocess
import sys
from pathlib import Path

import pytest

from mtbench.suite.store import read_records

SUITE = Path(__file__).parent.parent / "suites" / "train-smoke.toml"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    out = tmp_path_factory.mktemp("train-smoke")
    cmd = [sys.executable, "-m", "mtbench", "run", str(SUITE), "--output", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return out


def test_both_models_reduce_the_loss_and_beat_chance_clearly(store):
    records = {r["model"]: r for r in read_records(store)}
    assert set(records) == {"r3d-18", "mtnet-32"}
    for record in records.values():
        assert record["status"] == "ok", record["error"]
        chance = 100 / record["num_classes"]
        assert record["top1"] >= 2 * chance, record["label"]
        curve = record["train_curve"]
        assert curve[-1]["loss"] < curve[0]["loss"], record["label"]
        assert record["gflops"] > 0 and record["latency_fwd_ms"]["median"] > 0


def test_accuracy_and_training_plots_draw_from_it(store):
    cmd = [sys.executable, "-m", "mtbench", "plot", str(store), "--format", "png"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    plots = {p.name for p in (store / "plots").iterdir()}
    for name in ("accuracy-gflops", "accuracy-latency", "training"):
        assert f"train-smoke-{name}.png" in plots, plots
