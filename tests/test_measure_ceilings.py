"""The machine's ceilings: near a plain GEMM's own timing, a plausible bandwidth, measured once
per machine, dtype and thread count, and measured again on request."""

import time

import pytest
import torch

from mtbench.measure import ceilings
from mtbench.measure.ceilings import Sizes, machine_ceilings, measure
from mtbench.measure.environment import environment

SMALL = Sizes(gemm=512, conv=(1, 16, 8, 28, 28), stream_mib=64, runs=3)
CPU = torch.device("cpu")


def test_gemm_ceiling_is_near_a_plain_mm_timing_and_bandwidth_is_plausible():
    n = SMALL.gemm
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    plain = n**3 / best / 1e9  # multiply-adds per second, as every GFLOPs figure counts
    got = measure(CPU, torch.float32, SMALL)
    assert plain / 2 <= got["gemm_gflops"] <= plain * 2
    assert got["conv3d_gflops"] > 0
    for key in ("copy_gbs", "add_gbs"):
        assert 0 < got[key] < 1000  # a CPU's memory moves well under a terabyte per second


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Ceilings cached under tmp_path, measured by a stub that counts its calls."""
    monkeypatch.setenv(ceilings.CACHE_ENV, str(tmp_path))
    calls = []

    def fake(device, dtype, sizes):
        calls.append(torch.get_num_threads())
        return {"gemm_gflops": 1.0, "conv3d_gflops": 2.0, "copy_gbs": 3.0, "add_gbs": 4.0}

    monkeypatch.setattr(ceilings, "measure", fake)
    return calls


def test_ceilings_are_cached_per_thread_count_and_remeasured_on_request(counted, tmp_path):
    env = environment(CPU)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        first = machine_ceilings(env, CPU, torch.float32)
        assert machine_ceilings(env, CPU, torch.float32) == first
        assert counted == [1]
        assert len(list(tmp_path.glob("*.json"))) == 1
        torch.set_num_threads(2)
        two = machine_ceilings(env, CPU, torch.float32)
        assert counted == [1, 2] and two["threads"] == 2 and first["threads"] == 1
        machine_ceilings(env, CPU, torch.bfloat16)
        assert counted == [1, 2, 2]
        machine_ceilings(env, CPU, torch.float32, remeasure=True)
        assert counted == [1, 2, 2, 2]
    finally:
        torch.set_num_threads(threads)


def test_another_machine_key_has_its_own_ceilings(counted):
    env = environment(CPU)
    machine_ceilings(env, CPU, torch.float32)
    machine_ceilings({**env, "cpu": "another CPU"}, CPU, torch.float32)
    assert len(counted) == 2
