"""Learning-rate schedules and the multigrid shape schedule, as functions of training progress.

Progress is measured in epochs (fractional inside an epoch), so the LR of any step is a pure
function of where training is: a resumed run sets exactly the LR an uninterrupted one had.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch


def schedule_lr(train: dict[str, Any], progress: float) -> float:
    """The LR at `progress` epochs: step (x lr_gamma at each of lr_steps) or cosine to 0,
    after a linear warm-up from warmup_factor x lr (PySlowFast's warm-up: it ends on the
    value the main schedule has at the end of warm-up)."""
    warmup = train["warmup_epochs"]
    if progress < warmup:
        start = train["warmup_factor"] * train["lr"]
        end = _main_lr(train, warmup)
        return start + (end - start) * progress / warmup
    return _main_lr(train, progress)


def _main_lr(train: dict[str, Any], progress: float) -> float:
    if train["schedule"] == "cosine":
        return train["lr"] * 0.5 * (1.0 + math.cos(math.pi * min(progress / train["epochs"], 1)))
    passed = sum(progress >= step for step in train["lr_steps"])
    return train["lr"] * train["lr_gamma"] ** passed


class LRSchedule:
    """Sets the optimizer's LR before every step; its state is the progress it last set."""

    def __init__(self, optimizer: torch.optim.Optimizer, train: dict[str, Any]) -> None:
        self.optimizer = optimizer
        self.train = train
        self.progress = 0.0

    def step(self, progress: float) -> float:
        self.progress = progress
        lr = schedule_lr(self.train, progress)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def state_dict(self) -> dict[str, float]:
        return {"progress": self.progress}

    def load_state_dict(self, state: dict[str, float]) -> None:
        """Restore, and check the optimizer's live LR is the schedule's at that progress."""
        self.progress = state["progress"]
        expected = schedule_lr(self.train, self.progress)
        live = self.optimizer.param_groups[0]["lr"]
        if not math.isclose(live, expected, rel_tol=1e-12, abs_tol=1e-15):
            raise RuntimeError(
                f"resumed LR {live} is not the schedule's {expected} at epoch {self.progress:.3f}"
            )


# Wu et al. 2020 (and PySlowFast's utils/multigrid.py): the long cycle visits these (time,
# space) factors in order, the batch growing by 1 / (t * s^2) so a step costs about the same;
# the short cycle shrinks the crop on two of every three steps.
LONG_CYCLE = ((0.25, 2**-0.5), (0.5, 2**-0.5), (0.5, 1.0), (1.0, 1.0))
SHORT_CYCLE = (0.5, 2**-0.5, 1.0)


@dataclass(frozen=True)
class GridShape:
    """One multigrid phase: epochs [start, end) train at `frames` x `crop` with `batch_size`."""

    start: int
    end: int
    frames: int
    crop: int
    batch_size: int


def _round8(x: float) -> int:
    return max(8, int(round(x / 8)) * 8)


def long_cycle(train: dict[str, Any], frames: int, crop: int) -> list[GridShape]:
    """Each LR stage (between LR steps; the whole run for cosine) is split into consecutive
    equal parts, one per long-cycle shape, so every stage ends at the full (T, crop); a stage
    shorter than the cycle keeps only its last shapes. Our reading of the paper's "multigrid
    training", which does not give the schedule."""
    bounds = [0, *(s for s in train["lr_steps"] if s < train["epochs"]), train["epochs"]]
    if train["schedule"] == "cosine":
        bounds = [0, train["epochs"]]
    phases = []
    for begin, end in zip(bounds, bounds[1:], strict=False):
        factors = LONG_CYCLE[-min(len(LONG_CYCLE), end - begin) :]
        edges = [begin + round(i * (end - begin) / len(factors)) for i in range(len(factors) + 1)]
        for (t, s), a, b in zip(factors, edges, edges[1:], strict=False):
            phases.append(
                GridShape(
                    a,
                    b,
                    max(1, round(frames * t)),
                    _round8(crop * s),
                    max(1, round(train["batch_size"] / (t * s * s))),
                )
            )
    return phases


def shape_at(phases: list[GridShape], epoch: int) -> GridShape:
    return next(p for p in phases if p.start <= epoch < p.end)


def short_cycle_shape(shape: GridShape, step: int, base_crop: int) -> tuple[int, int]:
    """(crop, batch size) of a step under the short cycle; the full shape on every third."""
    s = SHORT_CYCLE[step % len(SHORT_CYCLE)]
    if s == 1.0:
        return shape.crop, shape.batch_size
    crop = _round8(shape.crop * s)
    return crop, max(1, round(shape.batch_size * (shape.crop / crop) ** 2))
