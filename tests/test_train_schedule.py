"""LR schedules, the multigrid cycles and the batch sampler: pure functions of progress."""

import math

import pytest
import torch

from mtbench.suite.workload import TRAIN_FIELDS
from mtbench.train.sampler import EpochBatchSampler
from mtbench.train.schedule import (
    LRSchedule,
    long_cycle,
    schedule_lr,
    shape_at,
    short_cycle_shape,
)


def train(**overrides):
    return {**{k: f.default for k, f in TRAIN_FIELDS.items()}, **overrides}


def test_step_schedule_multiplies_by_gamma_at_each_step():
    t = train(lr=0.1, lr_steps=[20, 30], epochs=40)
    assert [schedule_lr(t, e) for e in (0, 19.99, 20, 29.5, 30, 39)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    )


def test_cosine_ends_at_zero_and_warmup_is_linear_into_the_schedule():
    t = train(lr=0.2, schedule="cosine", epochs=10, warmup_epochs=2, warmup_factor=0.1)
    at_two = 0.2 * 0.5 * (1 + math.cos(math.pi * 2 / 10))
    assert schedule_lr(t, 0) == pytest.approx(0.02)
    assert schedule_lr(t, 1) == pytest.approx((0.02 + at_two) / 2)
    assert schedule_lr(t, 2) == pytest.approx(at_two)
    assert schedule_lr(t, 10) == pytest.approx(0.0)


def test_resumed_schedule_checks_the_live_lr():
    model = torch.nn.Linear(2, 2)
    t = train(lr=0.1, lr_steps=[2], epochs=4)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = LRSchedule(opt, t)
    sched.step(2.5)
    state, opt_state = sched.state_dict(), opt.state_dict()
    fresh_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fresh_opt.load_state_dict(opt_state)
    LRSchedule(fresh_opt, t).load_state_dict(state)  # LR 0.01 matches epoch 2.5
    fresh_opt.param_groups[0]["lr"] = 0.1
    with pytest.raises(RuntimeError, match="not the schedule"):
        LRSchedule(fresh_opt, t).load_state_dict(state)


def test_long_cycle_visits_the_four_shapes_per_stage_keeping_cost_per_step():
    t = train(epochs=16, lr_steps=[8, 12], batch_size=8)
    phases = long_cycle(t, frames=16, crop=112)
    assert [(p.start, p.end) for p in phases[:4]] == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert [(p.frames, p.crop) for p in phases[:4]] == [(4, 80), (8, 80), (8, 112), (16, 112)]
    assert [p.batch_size for p in phases[:4]] == [64, 32, 16, 8]
    # every stage ends at the full shape, and the phases tile the run
    assert shape_at(phases, 7).frames == 16 and shape_at(phases, 15).crop == 112
    assert [p.start for p in phases[1:]] == [p.end for p in phases[:-1]] and phases[-1].end == 16


def test_short_cycle_shrinks_the_crop_two_steps_in_three():
    (phase,) = [p for p in long_cycle(train(epochs=1, lr_steps=[], batch_size=8), 16, 112)]
    shapes = [short_cycle_shape(phase, i, 112) for i in range(6)]
    assert shapes[:3] == [(56, 32), (80, 16), (112, 8)] and shapes[3:] == shapes[:3]


def test_sampler_is_a_pure_function_of_seed_and_epoch_and_ranks_partition_it():
    a = list(EpochBatchSampler(10, 3, seed=1, epoch=2))
    assert a == list(EpochBatchSampler(10, 3, seed=1, epoch=2))
    assert a != list(EpochBatchSampler(10, 3, seed=1, epoch=3))
    assert [len(b) for b in a] == [3, 3, 3]  # the partial last batch is dropped
    ranks = [EpochBatchSampler(10, 5, seed=1, epoch=0, rank=r, world_size=2) for r in (0, 1)]
    seen = [i for s in ranks for b in s for i in b]
    assert sorted(set(seen)) == list(range(10)) and len(seen) == 10


def test_multigrid_batches_carry_their_shape_and_size():
    sampler = EpochBatchSampler(40, 4, seed=0, epoch=0, shape_of=lambda s: (8, 56 + s, 2 + s))
    batches = list(sampler)
    assert [len(b) for b in batches[:3]] == [2, 3, 4]
    assert all(key[1:] == (8, 56 + s) for s, b in enumerate(batches) for key in b)
