"""This machine's ceilings: peak compute and memory bandwidth, measured, cached per machine.

Compute: a large square GEMM and a large dense conv3d in the cell's dtype, counted as every
other figure is (one multiply-add = one FLOP), so an achieved GFLOP/s divided by a ceiling
is a fraction of what the machine showed it can do. Bandwidth: a large copy (reads and
writes each element once: 2 x size bytes) and a large add (two reads, one write: 3 x size),
on tensors far larger than the caches. Each is the best of a few runs (a ceiling is what the
machine reaches, not its median). Measured at the cell's thread count, once per machine key
(`mtbench.measure.machine`), device, dtype and thread count, and cached as JSON under
`~/.cache/mtbench/ceilings` (`$XDG_CACHE_HOME`, or `$MTBENCH_CEILINGS_DIR` in full).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mtbench.measure.machine import machine_key
from mtbench.record import Ceilings, Env

CACHE_ENV = "MTBENCH_CEILINGS_DIR"


@dataclass(frozen=True)
class Sizes:
    """Problem sizes of the ceiling benchmarks; tests shrink them."""

    gemm: int = 2048  # n of an n x n x n product
    conv: tuple[int, ...] = (1, 64, 16, 56, 56)  # input of a 64 -> 64, 3x3x3 conv3d
    stream_mib: int = 256  # each tensor of the copy and the add
    runs: int = 3


CPU_SIZES = Sizes()
CUDA_SIZES = Sizes(gemm=8192, conv=(8, 128, 16, 56, 56), stream_mib=1024, runs=5)


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mtbench" / "ceilings"


def _best_seconds(run: Callable[[], object], device: torch.device, runs: int) -> float:
    run()  # warm-up: allocation, kernel choice
    best = float("inf")
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        run()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return best


def measure(device: torch.device, dtype: torch.dtype, sizes: Sizes) -> dict[str, Any]:
    """GFLOP/s of the GEMM and the conv3d, GB/s of the copy and the add, at the current
    thread count."""
    n = sizes.gemm
    a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
    gemm = n**3 / _best_seconds(lambda: torch.mm(a, b), device, sizes.runs) / 1e9
    x = torch.randn(sizes.conv, device=device, dtype=dtype)
    channels = sizes.conv[1]
    w = torch.randn(channels, channels, 3, 3, 3, device=device, dtype=dtype)
    out = torch.nn.functional.conv3d(x, w, padding=1)
    conv_macs = out.numel() * channels * 27
    conv = conv_macs / _best_seconds(
        lambda: torch.nn.functional.conv3d(x, w, padding=1), device, sizes.runs
    )
    elements = sizes.stream_mib * 2**20 // torch.tensor([], dtype=dtype).element_size()
    src, dst, other = (torch.empty(elements, device=device, dtype=dtype) for _ in range(3))
    src.normal_(), other.normal_()
    size = src.numel() * src.element_size()
    copy = 2 * size / _best_seconds(lambda: dst.copy_(src), device, sizes.runs) / 1e9
    add = 3 * size / _best_seconds(lambda: torch.add(src, other, out=dst), device, sizes.runs)
    return {
        "gemm_gflops": round(gemm, 2),
        "conv3d_gflops": round(conv / 1e9, 2),
        "copy_gbs": round(copy, 2),
        "add_gbs": round(add / 1e9, 2),
    }


def _cache_file(key: str) -> Path:
    return cache_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def machine_ceilings(
    env: Env,
    device: torch.device,
    dtype: torch.dtype,
    *,
    remeasure: bool = False,
    sizes: Sizes | None = None,
) -> Ceilings:
    """The ceilings of this machine, device, dtype and thread count: from the cache, or
    measured now (and cached) when absent or when `remeasure` asks."""
    key = machine_key(env)
    threads = torch.get_num_threads()
    entry = f"{device.type}/{str(dtype).removeprefix('torch.')}/{threads} threads"
    path = _cache_file(key)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {"machine": key, "entries": {}}
    if entry in cached.get("entries", {}) and not remeasure:
        return cached["entries"][entry]
    sizes = sizes or (CUDA_SIZES if device.type == "cuda" else CPU_SIZES)
    ceilings = {
        "entry": entry,
        "threads": threads,
        **measure(device, dtype, sizes),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    cached.setdefault("entries", {})[entry] = ceilings
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(cached, indent=1))
    tmp.replace(path)
    return ceilings
