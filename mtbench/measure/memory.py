"""Peak memory of a measured region.

CUDA: the allocator's own peak (`torch.cuda.max_memory_allocated`) after a reset. CPU:
the process's resident set size sampled in a background thread; the peak growth over
the RSS at entry is what the region cost (ru_maxrss cannot give this: it is the peak of
the whole process lifetime, reached perhaps long before).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import torch

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_frozen_depth = 0


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Leave every object alive now out of the garbage collections until the block ends.

    A suite collects after each cell and before each memory reading; with torch, ONNX and
    OpenVINO imported a full collection walks half a million objects or more, 0.2 s in a
    fresh process and 0.6 s in a test worker, once per cell. Frozen, a collection walks only
    what the cells made since. A cycle that was garbage already waits for the block's end,
    when every frozen object returns to the oldest generation. Nested blocks freeze once.
    """
    global _frozen_depth
    if _frozen_depth == 0:
        gc.freeze()
    _frozen_depth += 1
    try:
        yield
    finally:
        _frozen_depth -= 1
        if _frozen_depth == 0:
            gc.unfreeze()


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS, so that RSS growth measures this run alone.

    Without it, a run that follows a larger one reuses the allocator's retained pages and
    shows almost no growth.
    """
    gc.collect()
    libc_name = ctypes.util.find_library("c")
    if libc_name:
        libc = ctypes.CDLL(libc_name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)


def current_rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the lifetime peak is the best available reading
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def available_mb() -> float | None:
    """Memory the process can still take before the kernel kills it, in MiB: the machine's
    MemAvailable, or less under a cgroup (v2) limit; None where neither can be read."""
    found = []
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) / 1024)
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        if limit != "max":
            found.append((int(limit) - used) / 2**20)
    except (OSError, ValueError):
        pass
    return min(found) if found else None


class PeakMemory:
    """Context manager; `peak_mb` holds the region's peak memory growth in MiB."""

    def __init__(self, device: torch.device, interval_s: float = 0.002) -> None:
        self.device = device
        self.interval_s = interval_s
        self.peak_mb: float | None = None
        self._stop = threading.Event()
        self._baseline = 0
        self._peak = 0
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._peak = max(self._peak, current_rss_bytes())

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            release_freed_memory()
            self._baseline = self._peak = current_rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            peak = max(self._peak, current_rss_bytes())
        self.peak_mb = max(0, peak - self._baseline) / 2**20
