"""Deployment scenarios: how a measure-only cell's forward is driven besides its repeats.

MLPerf's four (single-stream, multi-stream, server, offline) are run by MLPerf's own LoadGen
(`loadgen_run`), a live stream by `stream`; every one calls the cell's executor's forward
step, never a model of its own. Two searches add a curve: `server` bisects the Poisson rate
for the highest one whose p99 latency meets `target_latency_ms` (LoadGen's performance
constraint; one run at half the capacity, if a query alone takes longer than the bound),
`offline` doubles the batch for the most clips per second until a batch runs
out of memory, exceeds `memory_budget_mb` or `max_batch` (on out-of-memory it steps down
between the last batch that ran and the one that failed, as timm's benchmark decays its
batch; since the kernel kills a process out of the host's memory instead of raising, it
does not try a batch that the last one's footprint, scaled, says would not fit), and a
stream's search bisects the frame rate for the highest with at most 1% of windows missed.

A run shorter than MLPerf's 600 s is labelled short and never MLPerf-valid, whatever LoadGen
concluded; an INVALID run is a result (its reason recorded), not a failure of the cell.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from mtbench.executor import FORWARD, Executor
from mtbench.measure.execution import peak_memory, time_alone
from mtbench.measure.loadgen_run import MLPERF, LoadGenSettings, run_loadgen
from mtbench.measure.memory import PeakMemory, available_mb, frozen_heap
from mtbench.measure.stream import (
    MAX_MISS_RATE,
    StreamSettings,
    run_stream,
    write_stream_video,
)
from mtbench.options import ProfileOptions
from mtbench.record import CurvePoint, LoadGenRun, Scenario, Search

SEARCH_STEPS = 6  # bisection steps of the server and stream searches: 1/64 of the range
SCENARIO_FOLDER = "scenarios"  # under the cell's folder: one folder of logs per run
OUT_OF_MEMORY = (torch.OutOfMemoryError, MemoryError)
# A batch that does not fit in the host's memory raises nothing: the kernel kills the process,
# and the suite with it (MViTv2-S at 16x224x224 under OpenVINO, batch 16 after 8, on 23 GiB).
# So the offline search tries a batch only if the last batch's host footprint (building its
# executor, where OpenVINO compiles and allocates, and a memory pass), scaled, fits in this
# share of the memory still available.
HOST_MEMORY_SHARE = 0.8

MakeExecutor = Callable[[int], Executor]  # an executor at clip batch b


def scenario_settings(options: ProfileOptions, window: int) -> dict[str, Any]:
    """The options that drive the scenario, as the record states them."""
    common = {"min_duration_s": options.min_duration_s, "seed": options.scenario_seed}
    per = {
        "single-stream": {"min_query_count": options.min_query_count},
        "multi-stream": {
            "min_query_count": options.min_query_count,
            "samples_per_query": options.samples_per_query,
        },
        "server": {
            "min_query_count": options.min_query_count,
            "target_qps": options.target_qps,
            "target_latency_ms": options.target_latency_ms,
            "search": options.search,
        },
        "offline": {"max_batch": options.max_batch, "memory_budget_mb": options.memory_budget_mb},
        "stream": {
            "fps": options.fps,
            "window": window,
            "stride": stride_of(options, window),
            "source": options.stream_source,
            "video": options.stream_video,
            "search": options.search,
        },
    }
    return {**common, **per[options.scenario]}


def stride_of(options: ProfileOptions, window: int) -> int:
    return options.stride if options.stride is not None else max(1, window // 2)


def run_scenario(
    options: ProfileOptions,
    base: Executor,
    make_executor: MakeExecutor,
    shape: list[int],
    folder: Path,
) -> Scenario:
    """The cell's scenario on `base` (the cell's executor, its clip `shape`) or executors
    `make_executor` builds at another batch; logs (and a stream's video) under
    `folder`/scenarios."""
    name, window = options.scenario, shape[2]
    where = folder / SCENARIO_FOLDER
    loadgen: LoadGenRun | None = None
    stream = search = None
    if name == "stream":
        stream, search = _stream(options, base, shape, where)
    elif name == "server":
        loadgen, search = _server(options, base, where)
    elif name == "offline":
        loadgen, search = offline_search(options, make_executor, where)
    else:
        loadgen = _streams(options, base, make_executor, where)
    if loadgen is not None:
        loadgen["logs"] = [str(Path(p).relative_to(folder)) for p in loadgen["logs"]]
    return scenario_part(options, window, loadgen, stream, search)


def scenario_part(
    options: ProfileOptions,
    window: int,
    loadgen: LoadGenRun | None,
    stream: Any,
    search: Search | None,
) -> Scenario:
    """The record's `Scenario`, labelled: a run shorter than MLPerf's is never valid."""
    short = options.min_duration_s < MLPERF["min_duration_s"]
    valid = loadgen is not None and loadgen["result"] == "VALID" and not short
    if options.scenario == "stream":
        label = "live stream (not an MLPerf scenario)"
    elif short:
        label = f"short run ({options.min_duration_s:g} s; MLPerf: 600 s): not MLPerf-valid"
    else:
        label = "MLPerf's duration: " + ("valid" if valid else "INVALID")
    return {
        "name": options.scenario,
        "settings": scenario_settings(options, window),
        "short": short,
        "mlperf_valid": valid,
        "label": label,
        "loadgen": loadgen,
        "stream": stream,
        "search": search,
    }


def service_ms(executor: Executor) -> float:
    """The forward's median over a few runs: the searches' first guess at its capacity."""
    return time_alone(executor, [FORWARD], warmup=1, repeats=3)[FORWARD].median * (
        executor.clips_per_run
    )


def _settings(options: ProfileOptions, expected_ms: float, **extra: Any) -> LoadGenSettings:
    return LoadGenSettings(
        options.scenario,
        options.min_duration_s,
        options.min_query_count,
        options.scenario_seed,
        expected_ms,
        **extra,
    )


def _streams(
    options: ProfileOptions, base: Executor, make_executor: MakeExecutor, where: Path
) -> LoadGenRun:
    """Single-stream on the cell's clip; multi-stream on `samples_per_query` clips a query,
    one forward of that batch."""
    if options.scenario == "single-stream":
        settings = _settings(options, service_ms(base))
        return run_loadgen(base, settings, where / options.scenario)
    per_query = options.samples_per_query
    executor = base if base.clips_per_run == per_query else make_executor(per_query)
    settings = _settings(options, service_ms(executor), samples_per_query=per_query)
    return run_loadgen(executor, settings, where / options.scenario, samples_per_step=per_query)


def _server_point(
    options: ProfileOptions, base: Executor, qps: float, expected_ms: float, where: Path
) -> tuple[CurvePoint, LoadGenRun]:
    """One server run at `qps`; it passes when LoadGen's latency constraint holds."""
    settings = _settings(
        options, expected_ms, target_qps=qps, target_latency_ms=options.target_latency_ms
    )
    run = run_loadgen(base, settings, where / f"server-{qps:.4g}qps")
    passed = "performance constraints" not in run["failed"]
    why = None if passed else f"p99 over {options.target_latency_ms:g} ms"
    return _loadgen_point(qps, run, why), run


def _server(
    options: ProfileOptions, base: Executor, where: Path
) -> tuple[LoadGenRun, Search | None]:
    """One server run at `target_qps`, or the search for the highest rate that passes."""
    expected = service_ms(base)
    if not options.search:
        assert options.target_qps is not None  # validation asks for one or the search
        return _server_point(options, base, options.target_qps, expected, where)[1], None
    capacity = 1000.0 / expected  # queries/s one worker serves back to back
    runs: dict[float, LoadGenRun] = {}
    bound = options.target_latency_ms
    if expected > bound:
        # A query alone takes longer than the bound, so no rate meets it; bisecting towards
        # zero would only lengthen each run (its queries at 1/64 of the capacity: minutes).
        point, run = _server_point(options, base, capacity / 2, expected, where)
        if not point["passed"]:
            note = f"one query alone takes {expected:.0f} ms, over the {bound:g} ms bound"
            return run, {"over": "target_qps", "curve": [point], "found": None, "note": note}

    def attempt(qps: float) -> CurvePoint:
        point, runs[qps] = _server_point(options, base, qps, expected, where)
        return point

    search = bisect("target_qps", attempt, 0.0, 1.25 * capacity)
    best = search["found"] if search["found"] is not None else search["curve"][-1]["at"]
    return runs[best], search


def bisect(over: str, attempt: Callable[[float], CurvePoint], low: float, high: float) -> Search:
    """`SEARCH_STEPS` bisection steps on (low, high): the highest value that passed."""
    curve: list[CurvePoint] = []
    found = None
    for _ in range(SEARCH_STEPS):
        point = attempt((low + high) / 2)
        curve.append(point)
        if point["passed"]:
            found, low = point["at"], point["at"]
        else:
            high = point["at"]
    note = None if found is not None else f"no {over} passed in {len(curve)} steps"
    if all(p["passed"] for p in curve):
        note = f"every step passed: the highest {over} may lie above the {high:g} searched"
    return {"over": over, "curve": curve, "found": found, "note": note}  # type: ignore[typeddict-item]


def _offline_point(
    options: ProfileOptions, make_executor: MakeExecutor, batch: int, where: Path
) -> tuple[CurvePoint, LoadGenRun, float] | None:
    """One offline run at `batch` and the host memory its executor took in MiB (the peak
    growth while it was built and ran its memory pass, sampled outside any timed region);
    None when the memory pass is over the memory budget."""
    with PeakMemory(torch.device("cpu")) as host:
        executor = make_executor(batch)
        peak, _ = peak_memory(executor)
    if options.memory_budget_mb is not None and peak > options.memory_budget_mb:
        return None
    assert host.peak_mb is not None
    expected = service_ms(executor)
    qps = batch * 1000.0 / expected
    settings = _settings(options, expected, target_qps=qps)
    run = run_loadgen(executor, settings, where / f"offline-batch-{batch}", batch)
    return _loadgen_point(batch, run, None), run, host.peak_mb


def _would_not_fit(batch: int, ran: int, took_mb: float) -> str | None:
    """Why `batch` is not tried (the host memory batch `ran` took, scaled, over
    `HOST_MEMORY_SHARE` of the memory available), or None."""
    free = available_mb()
    if free is None:
        return None
    need = took_mb * batch / ran
    if need <= HOST_MEMORY_SHARE * free:
        return None
    return (
        f"not tried: would need about {need:.0f} MiB of host memory ({took_mb:.0f} at batch"
        f" {ran}), {free:.0f} MiB available"
    )


def _loadgen_point(at: float, run: LoadGenRun, why: str | None) -> CurvePoint:
    """A search's step at `at` from its LoadGen run; it passed unless `why` says otherwise."""
    return {
        "at": at,
        "passed": why is None,
        "why": why,
        "p90_ms": run["percentiles_ms"].get("p90"),
        "p99_ms": run["percentiles_ms"].get("p99"),
        "throughput": run["samples_per_s"],
        "miss_rate": None,
        "result": run["result"],
    }


def _failed_point(batch: int, why: str) -> CurvePoint:
    return {
        "at": batch,
        "passed": False,
        "why": why,
        "p90_ms": None,
        "p99_ms": None,
        "throughput": None,
        "miss_rate": None,
        "result": None,
    }


@frozen_heap()  # each point's memory reading collects what the search made
def offline_search(
    options: ProfileOptions, make_executor: MakeExecutor, where: Path
) -> tuple[LoadGenRun | None, Search]:
    """Batches 1, 2, 4, ... up to `max_batch`, each an offline LoadGen run; on running out of
    memory, batches between the last that ran and the one that failed, halving the gap, until
    one runs or none is left; stops at the memory budget, and before a batch that would not
    fit in the host's memory (`HOST_MEMORY_SHARE`). The best clips/s wins."""
    curve: list[CurvePoint] = []
    runs: dict[int, LoadGenRun] = {}
    ran, batch, took = 0, 1, 0.0
    while batch <= options.max_batch and batch > ran:
        why = _would_not_fit(batch, ran, took) if ran else None
        if why is not None:
            curve.append(_failed_point(batch, why))
            break
        try:
            done = _offline_point(options, make_executor, batch, where)
        except OUT_OF_MEMORY as exc:
            curve.append(_failed_point(batch, f"out of memory: {str(exc).splitlines()[0]}"))
            batch = ran + (batch - ran) // 2  # timm's decay: back towards the last that ran
            continue
        if done is None:
            curve.append(_failed_point(batch, f"over the {options.memory_budget_mb:g} MiB budget"))
            break
        curve.append(done[0])
        runs[batch], took = done[1], done[2]
        ran, batch = batch, batch * 2
    best = max(runs, key=lambda b: runs[b]["samples_per_s"] or 0.0, default=None)
    note = None if best is not None else "no batch ran"
    search: Search = {"over": "batch", "curve": curve, "found": best, "note": note}
    return (runs[best] if best is not None else None), search


def _stream_point(
    run_at: Callable[[StreamSettings], Any], settings: StreamSettings
) -> tuple[CurvePoint, Any]:
    run = run_at(settings)
    passed = run["miss_rate"] <= MAX_MISS_RATE
    point: CurvePoint = {
        "at": settings.fps,
        "passed": passed,
        "why": None if passed else f"{run['miss_rate']:.1%} of windows missed",
        "p90_ms": run["p90_ms"],
        "p99_ms": run["p99_ms"],
        "throughput": run["sustained_fps"],
        "miss_rate": run["miss_rate"],
        "result": None,
    }
    return point, run


def _stream_video(options: ProfileOptions, where: Path, shape: list[int]) -> tuple[Path, str]:
    """The file a decoding stream reads and how its record names it: the user's
    `stream_video`, else random frames written once at the clip's size into the cell's folder."""
    if options.stream_video is not None:
        return Path(options.stream_video), options.stream_video
    window, height, width = shape[2:]
    path = write_stream_video(where / "stream.mp4", 4 * window, height, width, 25)
    return path, "random frames at the clip's size"


def _stream(
    options: ProfileOptions, base: Executor, shape: list[int], where: Path
) -> tuple[Any, Search | None]:
    """The stream at `fps`, or the search for the highest fps with at most 1% misses (the
    record's stream is then the best passing run's, else the last run's)."""
    window, height, width = shape[2:]
    stride = stride_of(options, window)
    video, named = (
        _stream_video(options, where, shape) if options.stream_source == "video" else (None, None)
    )

    def run_at(settings: StreamSettings) -> Any:
        run = run_stream(base, settings)
        if named is not None:
            run["video"] = named
        return run

    def settings_at(fps: float) -> StreamSettings:
        source, duration = options.stream_source, options.min_duration_s
        return StreamSettings(fps, window, stride, duration, source, video, (height, width))

    if not options.search:
        return _stream_point(run_at, settings_at(options.fps))[1], None
    runs: dict[float, Any] = {}

    def attempt(fps: float) -> CurvePoint:
        point, runs[fps] = _stream_point(run_at, settings_at(fps))
        return point

    capacity = stride * 1000.0 / service_ms(base)  # frames/s when windows run back to back
    search = bisect("fps", attempt, 0.0, 1.5 * capacity)
    best = search["found"] if search["found"] is not None else search["curve"][-1]["at"]
    return runs[best], search
