"""Where the time goes: one torch.profiler-profiled step, its time mapped to rows.

Module rows: each row module's forward is bracketed by a `record_function` range opened in a
forward pre-hook and closed in its forward hook, so a row's time is everything between its
entry and exit: its operators, the Python around them, and the profiler's own cost per
operator. (`with_modules` records module scopes for TorchScript only; DeepSpeed's hook timing
reads a wall clock in the hooks, which is what the ranges do inside the profiler's own trace.)
Backward time, in a forward+backward step, goes to the row whose forward recorded the
operator that created the autograd node (the profiler's sequence numbers link them).

Operator rows: every top-level `aten::` operator (not called by another one) and every
autograd node's backward, with its inclusive time, by kind. What neither covers (Python
between operators, hooks, the profiler) is the "outside" row. On CUDA the times are the
device's (kernel time under each range), on CPU the wall clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.autograd import DeviceType
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from mtbench.measure.breakdown_count import called_parts
from mtbench.measure.opkinds import conv_groups, op_kind

RANGE = "mtbench.module:"
STEP = "mtbench.step"
BACKWARD = "autograd::engine::evaluate_function: "


@dataclass
class Times:
    """Milliseconds per clip of one profiled step: the whole step, per row, per kind."""

    total: float
    rows: dict[str, float]
    kinds: dict[str, float]


@contextmanager
def module_ranges(model: nn.Module, rows: list[str]) -> Iterator[None]:
    """A profiler range named RANGE + path around every call of each row module (of each of
    its called parts, for a container)."""
    modules = dict(model.named_modules())
    open_ranges: list[Any] = []

    def enter(path: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Any) -> None:
            open_ranges.append(record_function(RANGE + path))
            open_ranges[-1].__enter__()

        return hook

    def leave(module: nn.Module, args: Any, out: Any) -> None:
        open_ranges.pop().__exit__(None, None, None)

    handles = []
    for path in rows:
        for part in called_parts(model, path):
            handles.append(modules[part].register_forward_pre_hook(enter(path)))
            handles.append(modules[part].register_forward_hook(leave))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def profiled_step(
    step: Callable[[], object], model: nn.Module, rows: list[str], device: torch.device
) -> list[Any]:
    """The profiler's events of one call of `step` (after one unprofiled call with the same
    ranges, so lazy initialisation is not timed)."""
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with module_ranges(model, rows):
        step()
        with profile(activities=activities, record_shapes=True) as prof:
            with record_function(STEP):
                step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
    # Host-side events only: each holds its kernels' device time; the device's copies of the
    # ranges would count them twice.
    return [e for e in prof.events() if e.device_type == DeviceType.CPU and not e.is_async]


def _ancestors(event: Any) -> Iterator[Any]:
    parent = event.cpu_parent
    while parent is not None:
        yield parent
        parent = parent.cpu_parent


def _row_of(event: Any) -> str | None:
    return next((a.name[len(RANGE) :] for a in _ancestors(event) if a.name.startswith(RANGE)), None)


def _is_op(event: Any) -> bool:
    return event.name.startswith(("aten::", BACKWARD))


def _kind(event: Any) -> str:
    shapes = event.input_shapes or []
    groups = conv_groups(shapes[0], shapes[1]) if len(shapes) > 1 and "conv" in event.name else 1
    return op_kind(event.name, groups)


def attribute(events: list[Any], batch: int, device_time: bool) -> Times:
    """Map a profiled step's events to rows and kinds; times per clip in ms."""

    def ms(event: Any) -> float:
        us = event.device_time_total if device_time else event.cpu_time_total
        return us / 1000.0 / batch

    step = next(e for e in events if e.name == STEP)
    total = (
        sum(e.self_device_time_total for e in events) / 1000.0 / batch if device_time else ms(step)
    )
    rows: dict[str, float] = defaultdict(float)
    kinds: dict[str, float] = defaultdict(float)
    owners: dict[int, tuple[str | None, str]] = {}  # forward sequence number -> (row, kind)
    backward = []
    for event in events:
        outer_range = not any(a.name.startswith(RANGE) for a in _ancestors(event))
        if event.name.startswith(RANGE) and outer_range:
            rows[event.name[len(RANGE) :]] += ms(event)
        if not event.name.startswith("aten::"):
            if event.name.startswith(BACKWARD) and not any(map(_is_op, _ancestors(event))):
                backward.append(event)
            continue
        top = next((a for a in _ancestors(event) if _is_op(a)), None)
        if top is None:
            kinds[_kind(event)] += ms(event)
        if event.sequence_nr >= 0:
            owner_event = event if top is None else top
            owners.setdefault(event.sequence_nr, (_row_of(event), _kind(owner_event)))
    for event in backward:
        row, kind = owners.get(event.sequence_nr, (None, "other"))
        kinds[kind] += ms(event)
        if row is not None:
            rows[row] += ms(event)
    return Times(total, dict(rows), dict(kinds))
