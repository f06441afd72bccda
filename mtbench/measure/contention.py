"""How busy the machine was while a cell was timed, and the verdict on each timing.

A timing taken while other processes held the cores measures them as much as the model: two
OpenMP threads lose far more than half their speed when one core is taken, and the slow-down
hits a whole cell, not single repeats, so a cell's own spread cannot see it. So every timed
repeat is bracketed by two snapshots of the machine (`/proc/stat`, this process's CPU time,
`/proc/pressure/cpu`, the load average) and the differences are kept beside the times.

The thresholds are declared here, once, and documented in docs/measuring.md.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtbench.record import Contention

# Other processes may use the cores the cell's threads leave idle, plus this much of a core,
# before a timing is disturbed (a shell, a logger, the kernel's own work stay under it).
OTHERS_CORES_MARGIN = 0.25
# pyperf's warning: a standard deviation above 10% of the mean.
CV_MAX = 0.10
# The fastest repeat below this fraction of the median: some repeats ran on a quieter machine.
MIN_OVER_MEDIAN_MIN = 0.80

PROC_STAT = Path("/proc/stat")
PRESSURE = Path("/proc/pressure/cpu")
_IDLE_FIELDS = (3, 4)  # idle, iowait in the `cpu` line of /proc/stat
_GUEST_FIELDS = (8, 9)  # guest, guest_nice: already counted in user and nice


@dataclass(frozen=True)
class Snapshot:
    """The machine at one instant: busy and total CPU jiffies of all cores (None without
    /proc/stat), this process's CPU seconds, the CPU pressure stall total in microseconds
    (None where the kernel has no PSI), a wall clock and the 1-minute load average."""

    busy: int | None
    total: int | None
    own_cpu_s: float
    pressure_us: int | None
    wall_s: float
    load1: float


def _cpu_jiffies() -> tuple[int, int] | None:
    try:
        values = [int(v) for v in PROC_STAT.read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    counted = [v for i, v in enumerate(values) if i not in _GUEST_FIELDS]
    idle = sum(values[i] for i in _IDLE_FIELDS if i < len(values))
    # Steal (time the hypervisor gave another guest) stays in busy: contention too.
    return sum(counted) - idle, sum(counted)


def _pressure_us() -> int | None:
    try:
        some = PRESSURE.read_text().split("\n", 1)[0]
        return int(some.rsplit("total=", 1)[1])
    except (OSError, ValueError, IndexError):
        return None


def snapshot() -> Snapshot:
    jiffies = _cpu_jiffies()
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return Snapshot(
        busy=None if jiffies is None else jiffies[0],
        total=None if jiffies is None else jiffies[1],
        own_cpu_s=usage.ru_utime + usage.ru_stime,
        pressure_us=_pressure_us(),
        wall_s=time.perf_counter(),
        load1=os.getloadavg()[0],
    )


def cores() -> int:
    return os.cpu_count() or 1


@dataclass
class ContentionMeter:
    """The sum over timed windows (one per repeat) of what the machine did: a cell timed in
    one stretch and a cell timed in interleaved rounds are measured alike."""

    threads: int
    wall_s: float = 0.0
    own_cpu_s: float = 0.0
    busy: int = 0
    total: int = 0
    pressure_us: int = 0
    has_stat: bool = True
    has_pressure: bool = True
    load_before: float | None = None
    load_after: float | None = None
    _open: Snapshot | None = field(default=None, repr=False)

    def start(self) -> None:
        self._open = snapshot()
        if self.load_before is None:
            self.load_before = self._open.load1

    def stop(self) -> None:
        a, b = self._open, snapshot()
        assert a is not None, "stop() without start()"
        self.wall_s += b.wall_s - a.wall_s
        self.own_cpu_s += b.own_cpu_s - a.own_cpu_s
        if a.busy is None or b.busy is None or a.total is None or b.total is None:
            self.has_stat = False
        else:
            self.busy += b.busy - a.busy
            self.total += b.total - a.total
        if a.pressure_us is None or b.pressure_us is None:
            self.has_pressure = False
        else:
            self.pressure_us += b.pressure_us - a.pressure_us
        self.load_after = b.load1
        self._open = None

    def as_dict(self) -> Contention:
        """The record's `contention`."""
        n = cores()
        others = None
        if self.has_stat and self.total > 0:
            # Jiffies of all cores over the windows; this process's own CPU time taken out.
            seconds_per_jiffy = self.wall_s * n / self.total
            others_s = max(0.0, self.busy * seconds_per_jiffy - self.own_cpu_s)
            others = others_s / (self.wall_s * n) if self.wall_s > 0 else None
        pressure = None
        if self.has_pressure and self.wall_s > 0:
            pressure = min(1.0, self.pressure_us / 1e6 / self.wall_s)
        return {
            "others_share": _r(others),
            "others_cores": _r(None if others is None else others * n),
            "pressure_some": _r(pressure),
            "load_before": self.load_before,
            "load_after": self.load_after,
            "wall_s": _r(self.wall_s),
            "own_cpu_s": _r(self.own_cpu_s),
            "cores": n,
            "threads": self.threads,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def verdict(contention: dict[str, Any] | None, samples: Sequence[float]) -> tuple[str, list[str]]:
    """`clean`, `disturbed` or `unknown`, and every reason for it: other processes on the
    cores the cell's threads needed, the repeats' spread, a minimum far below the median."""
    reasons = []
    if contention is not None and contention.get("others_cores") is not None:
        free = max(0, contention["cores"] - contention["threads"])
        others = contention["others_cores"]
        if others > free + OTHERS_CORES_MARGIN:
            reasons.append(
                f"other processes used {others:.2f} of {contention['cores']} cores"
                f" (more than the {free} the {contention['threads']} threads left"
                f" + {OTHERS_CORES_MARGIN})"
            )
    if len(samples) >= 2:
        median = statistics.median(samples)
        mean = statistics.fmean(samples)
        cv = statistics.pstdev(samples) / mean if mean > 0 else 0.0
        if cv > CV_MAX:
            reasons.append(f"repeats' cv {cv:.2f} > {CV_MAX}")
        if median > 0 and min(samples) < MIN_OVER_MEDIAN_MIN * median:
            reasons.append(
                f"fastest repeat {min(samples) / median:.2f} of the median"
                f" (< {MIN_OVER_MEDIAN_MIN})"
            )
    if reasons:
        return "disturbed", reasons
    if contention is None or contention.get("others_cores") is None:
        return "unknown", ["no /proc/stat: other processes' CPU time not measured"]
    return "clean", []


def flag_fwdbwd(record: dict[str, Any]) -> None:
    """Mark both timings of a cell disturbed when its forward+backward came out faster than
    its forward: one of them was timed on a busier machine, and nothing says which."""
    fwd, fwdbwd = record.get("latency_fwd_ms"), record.get("latency_fwdbwd_ms")
    if not fwd or not fwdbwd or fwdbwd["median"] >= fwd["median"]:
        return
    why = (
        f"forward+backward ({fwdbwd['median']:.1f} ms) faster than forward ({fwd['median']:.1f} ms)"
    )
    for stats in (fwd, fwdbwd):
        stats["verdict"] = "disturbed"
        stats["reasons"] = [*stats.get("reasons", []), why]
