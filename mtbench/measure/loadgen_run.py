"""One run of MLPerf's own LoadGen over an executor's forward, and its summary parsed.

The system under test is the cell's executor: each query runs the executor's forward step
(one step per `samples_per_step` samples), in LoadGen's issuing thread or, for the server,
in one worker thread that takes queries in the order they arrived, then tells LoadGen the
query is complete. The query sample
library is the executor's own clip: every sample is the clip the executor was built on, so
loading a sample moves nothing and the time LoadGen measures is the network's and the
queue's. LoadGen decides when queries arrive, how long the run lasts, and whether it is
VALID; `mlperf_log_summary.txt` and `mlperf_log_detail.txt` stay in the run's folder.
"""

from __future__ import annotations

import math
import queue
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.executor import FORWARD, Executor
from mtbench.measure.latency import kept_samples
from mtbench.record import LoadGenRun

LOADGEN_NAMES = {
    "single-stream": "SingleStream",
    "multi-stream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}
# MLPerf's values (loadgen's built-in mlperf.conf, LoadGen 6.0): what a submission runs.
MLPERF = {
    "min_duration_s": 600,
    "single-stream percentile": 90,
    "multi-stream percentile": 99,
    "multi-stream samples_per_query": 8,
    "multi-stream min_query_count": 662,
    "server percentile": 99,
    "offline percentile": 90,
}


def reported_percentile(scenario: str) -> str:
    """The percentile MLPerf reports for `scenario` ('p90' single-stream, 'p99' multi-stream)."""
    return f"p{MLPERF.get(f'{scenario} percentile', 90)}"


# Samples in LoadGen's library: enough distinct indices for its sampling, all the same clip.
LIBRARY_SIZE = 64
SUMMARY, DETAIL = "mlperf_log_summary.txt", "mlperf_log_detail.txt"
PERCENTILES = {"50.00": "p50", "90.00": "p90", "95.00": "p95", "97.00": "p97", "99.00": "p99"}


@dataclass(frozen=True)
class LoadGenSettings:
    """What one LoadGen run is asked for; times in seconds and milliseconds as named."""

    scenario: str  # mtbench's name: single-stream, multi-stream, server, offline
    min_duration_s: float
    min_query_count: int
    seed: int
    expected_latency_ms: float  # single/multi-stream: LoadGen's first guess
    target_qps: float | None = None  # server: the arrival rate; offline: expected throughput
    target_latency_ms: float | None = None  # server
    samples_per_query: int = 1  # multi-stream

    def test_settings(self) -> Any:
        import mlperf_loadgen as lg

        s = lg.TestSettings()
        s.scenario = getattr(lg.TestScenario, LOADGEN_NAMES[self.scenario])
        s.mode = lg.TestMode.PerformanceOnly
        s.min_duration_ms = max(1, round(self.min_duration_s * 1000))
        s.min_query_count = self.min_query_count
        s.qsl_rng_seed = s.sample_index_rng_seed = s.schedule_rng_seed = self.seed
        expected_ns = max(1, round(self.expected_latency_ms * 1e6))
        s.single_stream_expected_latency_ns = expected_ns
        s.multi_stream_expected_latency_ns = expected_ns
        s.multi_stream_samples_per_query = self.samples_per_query
        if self.target_qps is not None:
            s.server_target_qps = self.target_qps
            s.offline_expected_qps = self.target_qps
        if self.target_latency_ms is not None:
            s.server_target_latency_ns = round(self.target_latency_ms * 1e6)
        return s


class ExecutorSUT:
    """LoadGen's system under test: each query runs the forward in LoadGen's issuing thread
    (single-stream, multi-stream, offline: LoadGen issues the next query only when this one
    is done, so nothing waits), or, for the server, is queued to one worker so that LoadGen
    keeps issuing on its Poisson schedule while the worker is busy."""

    def __init__(self, executor: Executor, samples_per_step: int, queued: bool) -> None:
        self.run = executor.steps[FORWARD].run
        # On CUDA a forward returns once its kernels are queued: the query is done when the
        # device is, so LoadGen's clock stops after a synchronize.
        self.synchronize = executor.device.type == "cuda"
        self.samples_per_step = samples_per_step
        self.queued = queued
        self.queries: queue.Queue[tuple[list[Any], int] | None] = queue.Queue()
        self.latencies_ms: list[float] = []  # per query, from its issue to its completion
        self.error: BaseException | None = None
        self.worker = threading.Thread(target=self._work, daemon=True)

    def issue(self, samples: list[Any]) -> None:
        issued = time.perf_counter_ns()
        if self.queued:
            self.queries.put((list(samples), issued))
        else:
            self._answer(list(samples), issued)

    def _answer(self, samples: list[Any], issued: int) -> None:
        """Run the forward for `samples` (unless an earlier one failed) and complete them;
        the query's latency, from LoadGen's issue to here, is kept for compare's intervals
        (LoadGen's summary has percentiles only)."""
        import mlperf_loadgen as lg

        if self.error is None:
            try:
                for _ in range(math.ceil(len(samples) / self.samples_per_step)):
                    self.run()
                if self.synchronize:
                    import torch

                    torch.cuda.synchronize()
                self.latencies_ms.append((time.perf_counter_ns() - issued) / 1e6)
            except BaseException as exc:  # noqa: BLE001  (re-raised after LoadGen ends)
                self.error = exc
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])

    def _work(self) -> None:
        while (query := self.queries.get()) is not None:
            self._answer(*query)

    def __enter__(self) -> ExecutorSUT:
        if self.queued:
            self.worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.queued:
            self.queries.put(None)
            self.worker.join()


def run_loadgen(
    executor: Executor, settings: LoadGenSettings, folder: Path, samples_per_step: int = 1
) -> LoadGenRun:
    """One LoadGen run of `executor`'s forward under `settings`, logged to `folder`; raises
    what the forward raised (an out-of-memory, say) after LoadGen has finished."""
    import mlperf_loadgen as lg

    folder.mkdir(parents=True, exist_ok=True)
    output = lg.LogOutputSettings()
    output.outdir = str(folder)
    output.copy_summary_to_stdout = False
    logs = lg.LogSettings()
    logs.log_output = output
    queued = settings.scenario == "server"
    with executor.settings(), ExecutorSUT(executor, samples_per_step, queued) as sut:
        executor.steps[FORWARD].enter()
        handle = lg.ConstructSUT(sut.issue, lambda: None)
        library = lg.ConstructQSL(LIBRARY_SIZE, LIBRARY_SIZE, lambda s: None, lambda s: None)
        try:
            lg.StartTestWithLogSettings(handle, library, settings.test_settings(), logs)
        finally:
            lg.DestroyQSL(library)
            lg.DestroySUT(handle)
    if sut.error is not None:
        raise sut.error
    for extra in ("mlperf_log_trace.json", "mlperf_log_accuracy.json"):
        (folder / extra).unlink(missing_ok=True)
    run = parse_summary((folder / SUMMARY).read_text(), (folder / DETAIL).read_text())
    run["logs"] = [str(folder / name) for name in run["logs"]]
    run["latencies_ms"] = kept_samples(sut.latencies_ms)
    return run


def _fields(text: str) -> dict[str, str]:
    """`key : value` lines of LoadGen's summary, keys stripped, the first of each kept."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not line.startswith(" *"):
            out.setdefault(key.strip(), value.strip())
    return out


def _number(fields: dict[str, str], key: str, scale: float = 1.0) -> float | None:
    value = fields.get(key)
    try:
        return float(value) * scale if value is not None else None
    except ValueError:
        return None


def parse_summary(summary: str, detail: str = "") -> LoadGenRun:
    """LoadGen's `mlperf_log_summary.txt` as the record's `LoadGenRun` (times in ms); the
    LoadGen version from the detail log's `loadgen_version`."""
    fields = _fields(summary)
    ms = 1e-6
    unmet = [k for k, v in fields.items() if k.endswith("satisfied") and v.lower() == "no"]
    percentiles = {
        name: value
        for key, name in PERCENTILES.items()
        if (value := _number(fields, f"{key} percentile latency (ns)", ms)) is not None
    }
    if (top := _number(fields, "99.90 percentile latency (ns)", ms)) is not None:
        percentiles["p99.9"] = top
    early = [line.strip(" *") for line in _early_stopping_lines(summary)]
    estimates = {
        f"p{float(m.group(1)):g}": int(m.group(2)) * ms
        for line in early
        if (m := re.match(r"Early stopping ([\d.]+)th percentile estimate: (\d+)", line))
    }
    version = re.search(r'"key": "loadgen_version", "value": "([^"]+)"', detail)
    parameters = _fields(summary.partition("Test Parameters Used")[2].partition("\n\n")[0])
    return {
        "scenario": fields.get("Scenario", ""),
        "result": "VALID" if fields.get("Result is") == "VALID" else "INVALID",
        "failed": [k.removesuffix(" satisfied").strip().lower() for k in unmet],
        "percentiles_ms": percentiles,
        "min_ms": _number(fields, "Min latency (ns)", ms),
        "mean_ms": _number(fields, "Mean latency (ns)", ms),
        "max_ms": _number(fields, "Max latency (ns)", ms),
        "early_stopping_ms": estimates,
        "early_stopping": early,
        "qps_with_overhead": _number(fields, "QPS w/ loadgen overhead"),
        "qps_without_overhead": _number(fields, "QPS w/o loadgen overhead"),
        "samples_per_s": _number(fields, "Completed samples per second")
        or _number(fields, "Samples per second"),
        "scheduled_samples_per_s": _number(fields, "Scheduled samples per second"),
        "loadgen_version": version.group(1) if version else None,
        "parameters": parameters,
        "logs": [SUMMARY, DETAIL],
    }


def _early_stopping_lines(summary: str) -> list[str]:
    """The early-stopping section's statements, each joined from its wrapped lines."""
    section = summary.partition("Early Stopping Result:")[2].partition("\n\n")[0]
    statements: list[str] = []
    for line in section.splitlines():
        if line.startswith(" * "):
            statements.append(line.strip())
        elif statements and line.strip():
            statements[-1] += " " + line.strip()
    return statements
