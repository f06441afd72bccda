"""Contention measured with every timing, and the verdict it gives (issue 27)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from mtbench.measure import contention
from mtbench.measure.contention import CV_MAX, OTHERS_CORES_MARGIN, flag_fwdbwd, verdict
from mtbench.measure.latency import CpuTimer, time_runs
from mtbench.record import read_record, verdict_of

STEADY = [10.0, 10.1, 10.2, 10.0, 10.1]


def _contention(others_cores: float | None, cores: int = 2, threads: int = 2) -> dict:
    return {"others_cores": others_cores, "cores": cores, "threads": threads}


def test_a_quiet_machine_and_steady_repeats_are_clean():
    assert verdict(_contention(0.1), STEADY) == ("clean", [])


def test_others_on_the_cores_the_threads_needed_disturb():
    said, reasons = verdict(_contention(OTHERS_CORES_MARGIN + 0.1), STEADY)
    assert said == "disturbed" and "other processes used" in reasons[0]
    # one thread on two cores leaves one free: a one-core load beside it is not contention
    assert verdict(_contention(1.0, threads=1), STEADY)[0] == "clean"


def test_spread_and_a_fast_minimum_disturb_even_without_proc_stat():
    wide = [10.0, 10.0, 14.0, 10.0, 6.0]
    said, reasons = verdict(None, wide)
    assert said == "disturbed"
    assert any(f"> {CV_MAX}" in r for r in reasons) and any("fastest" in r for r in reasons)
    assert verdict(None, STEADY)[0] == "unknown"


def test_a_forward_backward_faster_than_its_forward_is_flagged():
    record = {
        "latency_fwd_ms": {"median": 2474.0, "verdict": "clean", "reasons": []},
        "latency_fwdbwd_ms": {"median": 2185.0, "verdict": "clean", "reasons": []},
    }
    flag_fwdbwd(record)
    for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
        assert record[key]["verdict"] == "disturbed"
        assert "faster than forward" in record[key]["reasons"][0]


def test_records_without_the_fields_read_as_unknown_never_clean():
    old = {"model": "r3d-18", "latency_fwd_ms": {"median": 1.0, "samples": [1.0]}}
    record = read_record(old)
    assert record["latency_fwd_ms"]["verdict"] == "unknown"
    assert record["latency_fwd_ms"]["contention"] is None
    assert record["interleaved"] is False
    assert verdict_of(record) == "unknown"
    assert "verdict" not in old["latency_fwd_ms"]  # the stored record is untouched


def test_without_proc_stat_the_share_is_not_made_up(monkeypatch, tmp_path):
    monkeypatch.setattr(contention, "PROC_STAT", tmp_path / "missing")
    stats = time_runs(lambda: None, warmup=0, repeats=3, timer=CpuTimer())
    assert stats.contention["others_share"] is None
    assert stats.contention["load_before"] is not None and stats.contention["cores"] >= 1


def _timed(threads: int):
    a = torch.randn(384, 384)

    def run() -> None:
        for _ in range(8):
            a @ a

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return time_runs(run, warmup=2, repeats=15, timer=CpuTimer())
    finally:
        torch.set_num_threads(before)


@pytest.mark.serial
def test_a_cpu_burning_helper_makes_the_timing_disturbed_and_alone_it_is_clean():
    cores = contention.cores()
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        loaded = _timed(cores)  # every core is the cell's: the burner takes one of them
    finally:
        burner.kill()
        burner.wait()
    assert loaded.verdict == "disturbed"
    assert loaded.contention["others_cores"] > OTHERS_CORES_MARGIN
    assert any("other processes used" in r for r in loaded.reasons)
    alone = _timed(cores)
    if alone.verdict != "clean":  # the test machine itself may be busy: one more try
        alone = _timed(cores)
    if alone.verdict != "clean":
        pytest.skip(f"no clean window on this machine: {'; '.join(alone.reasons)}")
    assert alone.contention["others_cores"] <= OTHERS_CORES_MARGIN


def test_a_breakdown_takes_the_verdict_of_its_cells_timing():
    from mtbench.measure.breakdown import time_verdict

    clean = {"verdict": "clean"}
    both = {"fwd_ms": 5.0, "fwdbwd_ms": 9.0}
    busy = {"latency_fwd_ms": clean, "latency_fwdbwd_ms": {"verdict": "disturbed"}}
    assert time_verdict(both, busy) == "disturbed"
    assert time_verdict({"fwd_ms": 5.0}, busy) == "clean"  # its forward was timed clean
    assert time_verdict(both, {"latency_fwd_ms": clean, "latency_fwdbwd_ms": None}) == "clean"
    assert time_verdict(both, {"latency_fwd_ms": None, "latency_fwdbwd_ms": None}) is None
