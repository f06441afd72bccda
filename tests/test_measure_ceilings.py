"""The machine's ceilings: near a plain GEMM's own timing, a plausible bandwidth, measured once
per machine, dtype and thread count, and measured again on request; each figure judged as a
timing is, a disturbed one retried, cached as disturbed and measured again on the next call;
rooflines and breakdown tables name the ceilings they used with their verdicts."""

import itertools
import json
from collections import Counter
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from mtbench.measure import ceilings, contention
from mtbench.measure.ceilings import FIGURES, TRIES, Measured, Sizes, machine_ceilings
from mtbench.measure.environment import environment
from mtbench.measure.latency import CpuTimer, time_runs
from mtbench.measure.machine import machine_key
from mtbench.report.breakdown_plots import roofline_modules
from mtbench.report.breakdown_tables import breakdown_notes

SMALL = Sizes(gemm=512, conv=(1, 16, 8, 28, 28), stream_mib=64, runs=3)
CPU = torch.device("cpu")


@pytest.mark.serial
def test_gemm_ceiling_is_near_a_plain_mm_timing_and_bandwidth_is_plausible():
    n = SMALL.gemm
    a, b = torch.randn(n, n), torch.randn(n, n)
    mm = time_runs(lambda: torch.mm(a, b), warmup=1, repeats=5, timer=CpuTimer())
    plain = n**3 / (min(mm.samples) / 1e3) / 1e9  # multiply-adds per second, as GFLOPs count
    got = {name: ceilings.measure_figure(name, CPU, torch.float32, SMALL) for name in FIGURES}
    gemm = got["gemm_gflops"]
    assert gemm.value > 0
    if gemm.verdict == mm.verdict == "clean":  # a busy machine slows either timing, not both
        assert plain / 2 <= gemm.value <= plain * 2
    assert got["conv3d_gflops"].value > 0
    for key in ("copy_gbs", "add_gbs"):
        assert 0 < got[key].value < 1000  # a CPU's memory moves well under a terabyte per second
    for m in got.values():
        assert m.verdict in ("clean", "disturbed", "unknown") and 1 <= m.tries <= TRIES


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Ceilings cached under tmp_path, each figure measured by a stub that counts its calls."""
    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path))
    calls = []

    def fake(name, device, dtype, sizes):
        calls.append(torch.get_num_threads())
        return Measured(1.0 + FIGURES.index(name), "clean")

    monkeypatch.setattr(ceilings, "measure_figure", fake)
    return calls


def test_ceilings_are_cached_per_thread_count_and_remeasured_on_request(counted, tmp_path):
    env = environment(CPU)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        first = machine_ceilings(env, CPU, torch.float32)
        assert machine_ceilings(env, CPU, torch.float32) == first
        assert counted == [1] * 4  # one call per figure, none the second time
        assert len(list(tmp_path.glob("*.json"))) == 1
        torch.set_num_threads(2)
        two = machine_ceilings(env, CPU, torch.float32)
        assert counted == [1] * 4 + [2] * 4 and two["threads"] == 2 and first["threads"] == 1
        machine_ceilings(env, CPU, torch.float32)  # a clean figure is reused
        machine_ceilings(env, CPU, torch.bfloat16)
        assert counted == [1] * 4 + [2] * 8
        machine_ceilings(env, CPU, torch.float32, remeasure=True)
        assert counted == [1] * 4 + [2] * 12
    finally:
        torch.set_num_threads(threads)


def test_another_machine_key_has_its_own_ceilings(counted):
    env = environment(CPU)
    machine_ceilings(env, CPU, torch.float32)
    machine_ceilings({**env, "cpu": "another CPU"}, CPU, torch.float32)
    assert len(counted) == 8


# Work of one run of each stub benchmark: with 10 ms a run, 100, 200, 300, 400 G/s.
WORK = {name: 1e9 * (i + 1) for i, name in enumerate(FIGURES)}
STEP_S = 0.01


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """Ceilings cached under tmp_path; each benchmark a no-op of known work timed by a steady
    clock (10 ms a run), on a machine whose /proc/stat shows every core busy while a figure
    named in `busy` runs and idle otherwise (`stat = False`: no /proc/stat)."""
    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path))
    state = SimpleNamespace(busy=set(), running=None, runs=Counter(), stat=True)

    def benchmark(name):
        def run():
            state.running = name
            state.runs[name] += 1

        return lambda device, dtype, sizes: (run, WORK[name])

    monkeypatch.setattr(ceilings, "BENCHMARKS", {name: benchmark(name) for name in FIGURES})
    ticks = itertools.count()
    monkeypatch.setattr(ceilings, "clock", lambda: next(ticks) * STEP_S)
    jiffies = itertools.count(1)

    def snapshot():
        k = next(jiffies)
        busy = 100 * k if state.running in state.busy else 0
        if not state.stat:
            return contention.Snapshot(None, None, 0.0, None, float(k), 0.0)
        return contention.Snapshot(busy, 100 * k, 0.0, None, float(k), 0.0)

    monkeypatch.setattr(contention, "snapshot", snapshot)
    return state


WINDOW_RUNS = ceilings.CPU_SIZES.runs + 1  # the warm-up and the timed runs


def test_a_disturbed_ceiling_is_retried_cached_disturbed_and_measured_on_the_next_call(
    machine, tmp_path
):
    env = environment(CPU)
    machine.busy = {"gemm_gflops"}
    first = machine_ceilings(env, CPU, torch.float32)
    gemm = first["verdicts"]["gemm_gflops"]
    assert gemm["verdict"] == "disturbed" and gemm["tries"] == TRIES
    assert any("other processes used" in r for r in gemm["reasons"])
    assert machine.runs["gemm_gflops"] == TRIES * WINDOW_RUNS
    assert machine.runs["copy_gbs"] == WINDOW_RUNS  # a clean figure takes one window
    assert first["verdicts"]["copy_gbs"] == {**first["verdicts"]["copy_gbs"], "verdict": "clean"}
    assert first["verdict"] == "disturbed"
    assert [first[name] for name in FIGURES] == [100.0, 200.0, 300.0, 400.0]
    stored = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert list(stored["entries"].values()) == [first]

    machine.busy = set()  # quiet now: only the disturbed figure is measured again
    second = machine_ceilings(env, CPU, torch.float32)
    assert machine.runs == Counter(
        {
            "gemm_gflops": (TRIES + 1) * WINDOW_RUNS,
            "conv3d_gflops": WINDOW_RUNS,
            "copy_gbs": WINDOW_RUNS,
            "add_gbs": WINDOW_RUNS,
        }
    )
    assert second["verdicts"]["gemm_gflops"]["verdict"] == "clean"
    assert second["verdicts"]["gemm_gflops"]["tries"] == 1
    assert second["verdicts"]["copy_gbs"] == first["verdicts"]["copy_gbs"]
    assert second["verdict"] == "clean"
    assert machine_ceilings(env, CPU, torch.float32) == second  # clean: reused
    assert sum(machine.runs.values()) == (TRIES + 4) * WINDOW_RUNS


def test_a_ceiling_disturbed_again_is_measured_again_every_call(machine):
    env = environment(CPU)
    machine.busy = {"add_gbs"}
    machine_ceilings(env, CPU, torch.float32)
    again = machine_ceilings(env, CPU, torch.float32)
    assert machine.runs["add_gbs"] == 2 * TRIES * WINDOW_RUNS
    assert machine.runs["gemm_gflops"] == WINDOW_RUNS
    assert again["verdicts"]["add_gbs"]["verdict"] == "disturbed"


def test_a_cache_older_than_verdicts_is_measured_again_once(machine):
    env = environment(CPU)
    entry = f"cpu/float32/{torch.get_num_threads()} threads"
    old = {
        "entry": entry,
        "threads": torch.get_num_threads(),
        "gemm_gflops": 16.0,
        "conv3d_gflops": 28.0,
        "copy_gbs": 11.4,
        "add_gbs": 13.8,
        "measured_at": "then",
    }
    path = ceilings._cache_file(machine_key(env))
    path.write_text(json.dumps({"machine": machine_key(env), "entries": {entry: old}}))
    now = machine_ceilings(env, CPU, torch.float32)
    assert [now[name] for name in FIGURES] == [100.0, 200.0, 300.0, 400.0]
    assert now["verdict"] == "clean" and sum(machine.runs.values()) == 4 * WINDOW_RUNS
    assert machine_ceilings(env, CPU, torch.float32) == now
    assert sum(machine.runs.values()) == 4 * WINDOW_RUNS


def test_a_machine_that_cannot_be_judged_keeps_its_unknown_ceilings(machine):
    env = environment(CPU)
    machine.stat = False
    first = machine_ceilings(env, CPU, torch.float32)
    assert {v["verdict"] for v in first["verdicts"].values()} == {"unknown"}
    assert (
        first["verdict"] == "unknown"
        and "no /proc/stat" in first["verdicts"]["add_gbs"]["reasons"][0]
    )
    assert sum(machine.runs.values()) == 4 * WINDOW_RUNS  # not retried: it cannot be judged
    assert machine_ceilings(env, CPU, torch.float32) == first
    assert sum(machine.runs.values()) == 4 * WINDOW_RUNS


def test_the_command_prints_each_ceiling_with_its_verdict(machine, cli_inproc):
    machine.busy = {"gemm_gflops"}
    out = " ".join(cli_inproc("ceilings", "--threads", "1").stdout.split())
    assert "GEMM 100.0 (disturbed), conv3d 200.0 (clean) GFLOP/s" in out
    assert "copy 300.0 (clean), add 400.0 (clean) GB/s" in out
    assert f"GEMM: disturbed in {TRIES} windows (other processes used" in out
    assert "measured again on the next call" in out
    machine.busy = set()
    out = " ".join(cli_inproc("ceilings", "--threads", "1").stdout.split())
    assert "GEMM 100.0 (clean)" in out and "disturbed" not in out


CEILINGS = {
    "entry": "cpu/float32/2 threads",
    "gemm_gflops": 16.0,
    "conv3d_gflops": 28.0,
    "copy_gbs": 11.4,
    "add_gbs": 13.8,
}
JUDGED = {
    **CEILINGS,
    "verdicts": {name: {"verdict": "clean", "reasons": []} for name in FIGURES}
    | {"conv3d_gflops": {"verdict": "disturbed", "reasons": ["busy"]}},
}
BREAKDOWN = {
    "depth": 1,
    "fwd_ms": 10.0,
    "unprofiled_fwd_ms": 9.0,
    "time_source": "cpu wall clock",
    "module_columns": [
        "module",
        "params",
        "gflops",
        "gflops_ptflops",
        "out_mib",
        "moved_mb",
        "fwd_ms",
        "fwdbwd_ms",
    ],
    "modules": [["layer1", 1000.0, 0.5, None, 1.0, 20.0, 10.0, None]],
    "op_columns": ["kind", "gflops", "gflops_ptflops", "moved_mb", "fwd_ms", "fwdbwd_ms"],
    "ops": [["dense conv", 0.5, None, 20.0, 10.0, None]],
}


def test_breakdown_tables_name_each_ceiling_with_its_verdict():
    notes = breakdown_notes(BREAKDOWN, JUDGED)
    assert (
        "ceilings (cpu/float32/2 threads): GEMM 16 (clean), conv3d 28 (disturbed) GFLOP/s;"
        " copy 11.4 (clean), add 13.8 (clean) GB/s" in notes
    )
    assert any("against conv3d ceilings not measured clean (disturbed)" in n for n in notes)
    old = breakdown_notes(BREAKDOWN, CEILINGS)  # a record older than the verdicts
    assert any("GEMM 16 (unknown)" in n for n in old)
    assert any("against conv3d and add ceilings not measured clean" in n for n in old)
    clean = {**JUDGED, "verdicts": {name: {"verdict": "clean"} for name in FIGURES}}
    assert not any("not measured clean" in n for n in breakdown_notes(BREAKDOWN, clean))


def test_the_roofline_says_which_ceilings_drew_it_and_their_verdicts():
    frame = pd.DataFrame([{"label": "m", "breakdown": BREAKDOWN, "ceilings": JUDGED}])
    legend = [t.get_text() for t in roofline_modules(frame).axes[0].get_legend().get_texts()]
    assert "ceilings: 28 GFLOP/s (conv3d, disturbed), 13.8 GB/s (add, clean)" in legend
