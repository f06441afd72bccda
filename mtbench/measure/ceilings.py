"""This machine's ceilings: peak compute and memory bandwidth, measured, cached per machine.

Compute: a large square GEMM and a large dense conv3d in the cell's dtype, counted as every
other figure is (one multiply-add = one FLOP), so an achieved GFLOP/s divided by a ceiling
is a fraction of what the machine showed it can do. Bandwidth: a large copy (reads and
writes each element once: 2 x size bytes) and a large add (two reads, one write: 3 x size),
on tensors far larger than the caches. Each is the best of a few runs (a ceiling is what the
machine reaches, not its median). Measured at the cell's thread count, once per machine key
(`mtbench.measure.machine`), device, dtype and thread count, and cached as JSON under
`~/.cache/mtbench/ceilings` (`$XDG_CACHE_HOME`, or `$MTBENCH_CEILINGS_DIR` in full).

A ceiling taken on a busy machine is a fraction of the machine's and would misplace every
roofline drawn against it, so each figure's runs are judged as a timing is
(`mtbench.measure.contention`): a disturbed figure is measured again in a fresh window, up
to `TRIES` windows, and one still disturbed is cached with its verdict and measured again on
the next call. A cached figure without a verdict (a cache older than verdicts) is measured
again once; a figure judged `unknown` (no /proc/stat: the machine cannot be judged, so
measuring again would not help) is kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from mtbench.measure.contention import ContentionMeter, verdict
from mtbench.measure.machine import machine_key
from mtbench.record import Ceilings, Env

CACHE_ENV = "MTBENCH_CEILINGS_DIR"
# Windows a disturbed figure is measured in before it is cached as disturbed.
TRIES = 3
# The clock around each run; tests inject a steady one.
clock: Callable[[], float] = time.perf_counter


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of the ceiling benchmarks; tests shrink them."""

    gemm: int = 2048  # n of an n x n x n product
    conv: tuple[int, ...] = (1, 64, 16, 56, 56)  # input of a 64 -> 64, 3x3x3 conv3d
    stream_mib: int = 256  # each tensor of the copy and the add
    runs: int = 3


CPU_SIZES = Sizes()
CUDA_SIZES = Sizes(gemm=8192, conv=(8, 128, 16, 56, 56), stream_mib=1024, runs=5)


@dataclass(frozen=True)
class Measured:
    """One figure (G multiply-adds/s or GB/s), the verdict on the window that gave it, and
    the windows it took."""

    value: float
    verdict: str
    reasons: tuple[str, ...] = ()
    tries: int = 1


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mtbench" / "ceilings"


Run = Callable[[], object]


def _gemm(device: torch.device, dtype: torch.dtype, sizes: Sizes) -> tuple[Run, float]:
    n = sizes.gemm
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    return (lambda: torch.mm(a, b)), float(n**3)


def _conv3d(device: torch.device, dtype: torch.dtype, sizes: Sizes) -> tuple[Run, float]:
    x = torch.randn(sizes.conv, device=device, dtype=dtype)
    channels = sizes.conv[1]
    w = torch.randn(channels, channels, 3, 3, 3, device=device, dtype=dtype)
    out = torch.nn.functional.conv3d(x, w, padding=1)
    macs = out.numel() * channels * 27
    return (lambda: torch.nn.functional.conv3d(x, w, padding=1)), float(macs)


def _streams(device: torch.device, dtype: torch.dtype, sizes: Sizes, count: int) -> list:
    elements = sizes.stream_mib * 2**20 // torch.tensor([], dtype=dtype).element_size()
    return [torch.empty(elements, device=device, dtype=dtype) for _ in range(count)]


def _copy(device: torch.device, dtype: torch.dtype, sizes: Sizes) -> tuple[Run, float]:
    src, dst = _streams(device, dtype, sizes, 2)
    src.normal_()
    return (lambda: dst.copy_(src)), 2.0 * src.numel() * src.element_size()


def _add(device: torch.device, dtype: torch.dtype, sizes: Sizes) -> tuple[Run, float]:
    src, other, dst = _streams(device, dtype, sizes, 3)
    src.normal_(), other.normal_()
    return (lambda: torch.add(src, other, out=dst)), 3.0 * src.numel() * src.element_size()


# Each figure's benchmark: its run and the work of one run (multiply-adds or bytes moved).
BENCHMARKS: dict[str, Callable[[torch.device, torch.dtype, Sizes], tuple[Run, float]]] = {
    "gemm_gflops": _gemm,
    "conv3d_gflops": _conv3d,
    "copy_gbs": _copy,
    "add_gbs": _add,
}
FIGURES = tuple(BENCHMARKS)


def _window(run: Run, device: torch.device, runs: int) -> tuple[float, str, list[str]]:
    """The best seconds of `runs` timed runs after one warm-up, and the verdict on them:
    each run bracketed by snapshots of the machine, outside the timed region."""
    run()  # warm-up: allocation, kernel choice
    meter = ContentionMeter(torch.get_num_threads())
    seconds = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        meter.start()
        start = clock()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(clock() - start)
        meter.stop()
    said, reasons = verdict(meter.as_dict(), seconds)
    return min(seconds), said, reasons


def measure_figure(name: str, device: torch.device, dtype: torch.dtype, sizes: Sizes) -> Measured:
    """One figure (a key of `BENCHMARKS`) at the current thread count, from the first window
    not disturbed among `TRIES`; when every one is, the highest of them, disturbed."""
    run, work = BENCHMARKS[name](device, dtype, sizes)
    best: Measured | None = None
    for tries in range(1, TRIES + 1):
        seconds, said, reasons = _window(run, device, sizes.runs)
        got = Measured(round(work / seconds / 1e9, 2), said, tuple(reasons), tries)
        if said != "disturbed":
            return got
        best = got if best is None or got.value > best.value else best
    assert best is not None
    return replace(best, tries=TRIES)


def _cache_file(key: str) -> Path:
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def _kept(old: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The cached figures that are reused: those with a verdict that is not `disturbed`."""
    verdicts = old.get("verdicts") or {}
    return {
        name: verdicts[name]
        for name in FIGURES
        if name in old and name in verdicts and verdicts[name]["verdict"] != "disturbed"
    }


def _worst(verdicts: list[str]) -> str:
    return next((v for v in ("disturbed", "unknown") if v in verdicts), "clean")


def _entry(entry: str, threads: int, old: dict[str, Any], fresh: dict[str, Measured]) -> Ceilings:
    """The cache's and the record's entry: the four figures, when the latest was measured,
    the worst verdict, and each figure's verdict, reasons, windows and time."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    verdicts = _kept(old)
    for name, m in fresh.items():
        verdicts[name] = {
            "verdict": m.verdict,
            "reasons": list(m.reasons),
            "tries": m.tries,
            "measured_at": now,
        }
    values = {name: fresh[name].value if name in fresh else old[name] for name in FIGURES}
    return {
        "entry": entry,
        "threads": threads,
        **values,
        "measured_at": max(v["measured_at"] for v in verdicts.values()),
        "verdict": _worst([verdicts[name]["verdict"] for name in FIGURES]),
        "verdicts": {name: verdicts[name] for name in FIGURES},
    }


def machine_ceilings(
    env: Env,
    device: torch.device,
    dtype: torch.dtype,
    *,
    remeasure: bool = False,
    sizes: Sizes | None = None,
) -> Ceilings:
    """The ceilings of this machine, device, dtype and thread count: each figure from the
    cache, or measured now (and cached) when absent, disturbed, cached without a verdict,
    or when `remeasure` asks."""
    key = machine_key(env)
    threads = torch.get_num_threads()
    entry = f"{device.type}/{str(dtype).removeprefix('torch.')}/{threads} threads"
    path = _cache_file(key)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {"machine": key, "entries": {}}
    old = {} if remeasure else cached.get("entries", {}).get(entry, {})
    missing = [name for name in FIGURES if name not in _kept(old)]
    if not missing:
        return old
    sizes = sizes or (CUDA_SIZES if device.type == "cuda" else CPU_SIZES)
    fresh = {name: measure_figure(name, device, dtype, sizes) for name in missing}
    ceilings = _entry(entry, threads, old, fresh)
    cached.setdefault("entries", {})[entry] = ceilings
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cached, indent=1))
    tmp.replace(path)
    return ceilings
