import statistics

import pytest
import torch

from mtbench.measure.latency import CpuTimer, summarize, time_runs
from mtbench.measure.memory import PeakMemory


class FakeClock:
    """Each run takes the next duration (seconds); the clock only moves when read twice."""

    def __init__(self, durations):
        self.durations = iter(durations)
        self.now = 0.0
        self.started = False

    def __call__(self) -> float:
        if self.started:
            self.now += next(self.durations)
        self.started = not self.started
        return self.now


def test_summary_statistics_against_hand_computed_values():
    samples = [10.0, 12.0, 11.0, 30.0, 9.0]  # ms
    stats = summarize(samples)
    assert stats.median == 11.0
    # numpy-style linear percentile on sorted [9, 10, 11, 12, 30]: rank 0.4 and 3.6
    assert stats.p10 == pytest.approx(9.4)
    assert stats.p90 == pytest.approx(12 + 0.6 * 18)
    mean = sum(samples) / 5
    assert stats.cv == pytest.approx(statistics.pstdev(samples) / mean)
    assert stats.repeats == 5


def test_time_runs_uses_the_clock_skips_warmup_and_divides_by_batch():
    calls = []
    clock = FakeClock([0.040, 0.020, 0.030])  # seconds, for the 3 timed runs
    stats = time_runs(
        lambda: calls.append(1), warmup=2, repeats=3, timer=CpuTimer(clock), clips_per_run=2
    )
    assert len(calls) == 5
    assert stats.median == pytest.approx(15.0)  # 30 ms per batch of 2 clips
    assert stats.p10 == pytest.approx(10.0 + 0.2 * 5.0)
    assert stats.repeats == 3


@pytest.mark.parametrize("warmup,repeats", [(0, 0), (-1, 3)])
def test_invalid_repeat_counts_raise(warmup, repeats):
    with pytest.raises(ValueError):
        time_runs(lambda: None, warmup=warmup, repeats=repeats, timer=CpuTimer())


def test_cpu_peak_memory_sees_a_large_allocation():
    with PeakMemory(torch.device("cpu")) as mem:
        block = torch.ones(64, 2**20)  # 256 MiB, touched
        block.add_(1)
        del block
    assert 200 < mem.peak_mb < 1024


class FakeEvent:
    """Stands in for torch.cuda.Event: records the fake device clock when recorded."""

    clock = [0.0]

    def __init__(self, enable_timing: bool = False) -> None:
        assert enable_timing
        self.at = None
        self.synchronized = False

    def record(self) -> None:
        self.at = self.clock[0]

    def synchronize(self) -> None:
        self.synchronized = True

    def elapsed_time(self, end: "FakeEvent") -> float:
        assert end.synchronized, "read only after the end event completed"
        return end.at - self.at


def test_cuda_path_times_between_device_events(monkeypatch):
    from mtbench.measure import latency

    monkeypatch.setattr(latency.torch.cuda, "Event", FakeEvent)
    timer = latency.timer_for(torch.device("cuda"))
    assert isinstance(timer, latency.CudaTimer)

    def run():  # the "kernels" take 7 ms of device time
        FakeEvent.clock[0] += 7.0

    stats = time_runs(run, warmup=1, repeats=3, timer=timer, clips_per_run=1)
    assert stats.median == pytest.approx(7.0) and stats.cv == 0.0
    assert isinstance(latency.timer_for(torch.device("cpu")), CpuTimer)


def test_a_profile_thread_count_does_not_leak_into_the_next_measurement():
    from mtbench.measure.profile import ProfileOptions, profile

    before = torch.get_num_threads()
    options = ProfileOptions(device="cpu", warmup=0, repeats=1, measure=("latency_fwd",), threads=1)
    record = profile("r3d-18", {"num_classes": 2}, [1, 3, 2, 16, 16], options)
    assert record["threads"] == 1
    assert torch.get_num_threads() == before


def test_memory_is_measured_in_its_own_pass_outside_the_timed_runs(one_thread):
    """A model that counts the process's threads at each forward sees no sampling thread in
    any timed forward when memory is measured too; the memory pass is a training step."""
    import threading

    from torch import nn

    from mtbench.measure.profile import ProfileOptions, profile
    from mtbench.registry import register_model

    seen: list[tuple[bool, int]] = []

    class Counting(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x):
            seen.append((torch.is_inference_mode_enabled(), threading.active_count()))
            return self.fc(x.mean(dim=(2, 3, 4)))

    register_model("test-thread-counting", family="test")(lambda num_classes=2: Counting())
    for measure in (("latency_fwd",), ("latency_fwd", "memory")):
        seen.clear()
        options = ProfileOptions(warmup=1, repeats=10, measure=measure)
        record = profile("test-thread-counting", {}, [1, 3, 2, 8, 8], options)
        timed = [count for inference, count in seen if inference]
        assert len(timed) == 11 and len(set(timed)) == 1, timed
        if "memory" in measure:
            assert record["peak_mem_mb"] is not None and record["peak_mem_pass"] == "fwdbwd"
            assert sum(not inference for inference, _ in seen) == 2  # untimed run, measured run
        else:
            assert record["peak_mem_mb"] is None and seen and all(i for i, _ in seen)
