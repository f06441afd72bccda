"""Sampling is a function of (seed, epoch, index): same clips with 0 or 2 workers."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from videos import write_ucf101

from mtbench.data import DataConfig, build_dataset, collate
from mtbench.data.sampling import eval_indices, span, train_indices
from mtbench.data.transforms import eval_transform


@pytest.fixture(scope="module")
def ucf(tmp_path_factory):
    root, ann = write_ucf101(tmp_path_factory.mktemp("det"))
    return DataConfig(
        "ucf101", root=str(root), annotations=str(ann), frames=4, resize=(32, 48), crop=28
    )


def epoch_batches(cfg, workers, epoch, seed=7):
    data = build_dataset(cfg, "train", train=True, seed=seed)
    data.set_epoch(epoch)
    loader = DataLoader(data, batch_size=2, num_workers=workers, collate_fn=collate)
    return [batch["video"] for batch in loader]


def test_same_seed_same_clips_with_0_and_2_workers(ucf, one_thread):
    serial = epoch_batches(ucf, 0, epoch=1)
    parallel = epoch_batches(ucf, 2, epoch=1)
    assert all(torch.equal(a, b) for a, b in zip(serial, parallel, strict=True))
    other_epoch = epoch_batches(ucf, 0, epoch=2)
    assert not all(torch.equal(a, b) for a, b in zip(serial, other_epoch, strict=True))
    other_seed = epoch_batches(ucf, 0, epoch=1, seed=8)
    assert not all(torch.equal(a, b) for a, b in zip(serial, other_seed, strict=True))


def test_training_starts_cover_every_valid_start():
    starts = {int(train_indices(20, 4, 2, np.random.default_rng(i))[0]) for i in range(300)}
    assert starts == set(range(20 - span(4, 2) + 1))


def test_eval_clips_are_distinct_and_evenly_spaced():
    clips = eval_indices(100, 8, 2, 10)
    starts = [int(c[0]) for c in clips]
    assert starts == sorted(set(starts)) and len(starts) == 10
    assert np.diff(starts).max() - np.diff(starts).min() <= 1
    assert all(c[-1] < 100 for c in clips)


def test_eval_clips_stay_distinct_in_a_video_shorter_than_the_span():
    clips = eval_indices(12, 8, 2, 4)
    assert len({tuple(c) for c in clips}) == 4
    assert all(c.max() < 12 for c in clips)


def test_three_crops_are_both_ends_and_centre_of_the_long_side():
    ramp = np.broadcast_to(np.arange(64, dtype=np.uint8)[None, None, :, None], (2, 32, 64, 3))
    views = eval_transform(ramp, 32, 32, 3, (0, 0, 0), (1, 1, 1))
    lefts = [round(float(v[0, 0, 0, 0]) * 255) for v in views]
    assert lefts == [0, 16, 32]
    (centre,) = eval_transform(ramp, 32, 32, 1, (0, 0, 0), (1, 1, 1))
    assert torch.equal(centre, views[1])
