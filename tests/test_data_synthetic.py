"""Synthetic clips: deterministic, balanced, any size, and learnable from motion alone."""

import pytest
import torch
from held_out import fit_epoch, held_out_top1
from torch import nn

from mtbench.data import DataConfig, build_dataset, collate, read_annotations

SMALL = {
    "frames": 8,
    "interval": 1,
    "resize": (32, 32),
    "crop": 32,
    "source_frames": 24,
    "source_size": (32, 40),
}


def test_same_key_same_clip_and_any_shape(one_thread):
    cfg = DataConfig("synthetic", **SMALL)
    a, b = (build_dataset(cfg, "train", train=True, seed=0) for _ in range(2))
    assert torch.equal(a[5]["video"], b[5]["video"])
    assert not torch.equal(a[5]["video"], a[6]["video"])
    assert a[(5, 4, 16)]["video"].shape == (3, 4, 16, 16)
    test = build_dataset(cfg, "test", train=False, seed=0, clips=2, crops=3)
    assert test[0]["video"].shape == (6, 3, 8, 32, 32)


def test_balanced_classes_and_separate_splits():
    cfg = DataConfig("synthetic", num_classes=6, videos_per_class=5, test_videos_per_class=2)
    found = read_annotations(cfg)
    for split, per_class in (("train", 5), ("test", 2)):
        labels = [s.label for s in found.splits[split]]
        assert all(labels.count(c) == per_class for c in range(6))
    assert len(set(found.classes)) == 6
    keys = {s.key for s in found.splits["train"]} & {s.key for s in found.splits["test"]}
    assert not keys


@pytest.mark.slow
def test_a_small_3d_cnn_learns_it_well_above_chance(one_thread):
    """The CI dataset must be learnable in seconds of CPU (fresh clips each epoch)."""
    torch.manual_seed(0)
    cfg = DataConfig(
        "synthetic", num_classes=4, videos_per_class=24, test_videos_per_class=8, **SMALL
    )
    data = build_dataset(cfg, "train", train=True, seed=0)
    test = collate(list(build_dataset(cfg, "test", train=False, seed=0)))
    model = nn.Sequential(
        nn.Conv3d(3, 16, 3, padding=1),
        nn.BatchNorm3d(16),
        nn.ReLU(),
        nn.MaxPool3d(2),
        nn.Conv3d(16, 32, 3, padding=1),
        nn.BatchNorm3d(32),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(32, 4),
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(8):
        data.set_epoch(epoch)
        fit_epoch(model, optimiser, collate(list(data)))
    assert held_out_top1(model, test) >= 0.6  # chance is 0.25
