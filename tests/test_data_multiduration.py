"""Multi-duration clips: deterministic, balanced, durations over the knobs' range, buckets,
files in UCF-101's layout that the ucf101 reader loads, and the 2D reference
well below a 3D model on held-out videos."""

import csv

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error
from held_out import fit_epoch, held_out_top1
from torch import nn

from mtbench.data import DataConfig, DataError, build_dataset, collate, read_annotations
from mtbench.data.export import write_ucf101
from mtbench.data.kinds import DATASETS
from mtbench.data.multiduration import CLASSES, bucket_edges, duration_bucket
from mtbench.train.evaluate import ViewScores
from mtbench.train.trainer import top1_by_duration

SMALL = {"frames": 16, "interval": 1, "resize": (32, 32), "crop": 32, "source_size": (32, 40)}


def test_same_seed_same_clip_and_any_shape(one_thread):
    cfg = DataConfig("multiduration", num_classes=4, **SMALL)
    a, b = (build_dataset(cfg, "train", train=True, seed=0) for _ in range(2))
    assert torch.equal(a[5]["video"], b[5]["video"])
    assert not torch.equal(a[5]["video"], a[9]["video"])  # same class, another video
    assert a[(5, 8, 16)]["video"].shape == (3, 8, 16, 16)
    other = DataConfig("multiduration", frames=8, interval=3, crop=48, resize=(48, 56))
    assert build_dataset(other, "test", train=False, seed=0)[0]["video"].shape == (1, 3, 8, 48, 48)


def test_classes_balanced_and_durations_span_the_knobs():
    cfg = DataConfig("multiduration", videos_per_class=40, min_duration=3, max_duration=14, **SMALL)
    found = read_annotations(cfg)
    assert found.classes == list(CLASSES)
    for split, per_class in (("train", 40), ("test", 4)):
        labels = [s.label for s in found.splits[split]]
        assert np.bincount(labels).tolist() == [per_class] * 10
    durations = np.array([s.extra["duration"] for s in found.splits["train"]])
    assert durations.min() == 3 and durations.max() == 14
    buckets = [duration_bucket(cfg, d) for d in durations]
    for name in ("short", "medium", "long"):  # log-uniform durations: each bucket ~ a third
        assert 0.2 < buckets.count(name) / len(buckets) < 0.45
    # every class gets short and long actions
    for label in range(10):
        mine = durations[np.array([s.label for s in found.splits["train"]]) == label]
        assert mine.max() >= 3 * mine.min()


def test_action_stays_still_outside_its_duration(one_thread):
    """Frames before the action and after it are identical (noise and distractors off)."""
    cfg = DataConfig("multiduration", num_classes=2, distractors=0, noise=0, **SMALL)
    found = read_annotations(cfg)
    sample = next(s for s in found.splits["train"] if s.extra["duration"] <= 6)
    frames = DATASETS["multiduration"].open(cfg, sample, "train").read(np.arange(16))
    changed = np.flatnonzero(np.abs(np.diff(frames.astype(int), axis=0)).sum(axis=(1, 2, 3)))
    assert 1 <= changed.max() - changed.min() + 1 <= sample.extra["duration"] - 1


def test_bucket_edges_are_geometric_thirds_of_the_knobs():
    cfg = DataConfig("multiduration", min_duration=4, max_duration=16)
    assert bucket_edges(cfg) == pytest.approx((4 * 4 ** (1 / 3), 4 * 4 ** (2 / 3)))
    assert [duration_bucket(cfg, d) for d in (4, 6, 7, 10, 11, 16)] == [
        "short",
        "short",
        "medium",
        "medium",
        "long",
        "long",
    ]


@pytest.mark.parametrize(
    ("knobs", "needle"),
    [
        ({"min_duration": 8, "max_duration": 4}, "min_duration (8) <= max_duration (4)"),
        ({"max_duration": 40}, "clip span, (frames - 1) * interval + 1 = 31"),
        ({"num_classes": 11}, "num_classes 11 must be in 2..10"),
    ],
)
def test_bad_knobs_are_one_line(knobs, needle):
    with pytest.raises(DataError, match=r"^multiduration: ") as info:
        read_annotations(DataConfig("multiduration", **knobs))
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_top1_by_duration_per_bucket():
    cfg = DataConfig("multiduration", min_duration=4, max_duration=16)
    # 6 videos, 2 classes, 2 views; predictions right for videos 0, 2, 3, 5
    probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    views = ViewScores(
        scores=probs[:, None].repeat(1, 2, 1),
        labels=torch.tensor([0, 1, 1, 1, 1, 1]),
        clips=2,
        crops=1,
        classes=["a", "b"],
        extra={"duration": torch.tensor([4, 5, 8, 9, 12, 16])},
    )
    expected = {"short": 50.0, "medium": 100.0, "long": 50.0}
    assert top1_by_duration(views, cfg) == {"top1_by_duration": expected}
    views.extra["duration"] = torch.tensor([4, 4, 4, 5, 5, 6])
    assert top1_by_duration(views, cfg)["top1_by_duration"]["long"] is None
    assert top1_by_duration(ViewScores(views.scores, views.labels, 2, 1, ["a", "b"]), cfg) == {}


def test_written_ucf101_layout_reads_back(tmp_path, one_thread):
    cfg = DataConfig(
        "multiduration", num_classes=3, videos_per_class=2, test_videos_per_class=1, **SMALL
    )
    assert write_ucf101(cfg, tmp_path) == {"train": 6, "test": 3}
    lines = (tmp_path / "annotations" / "trainlist01.txt").read_bytes().split(b"\r\n")
    assert lines[0] == b"speed-up/v_speed-up_g01_c01.mp4 1" and lines[-1] == b""
    assert (tmp_path / "annotations" / "classInd.txt").read_bytes().startswith(b"1 speed-up\r\n")
    ucf = DataConfig(
        "ucf101",
        root=str(tmp_path / "videos"),
        annotations=str(tmp_path / "annotations"),
        frames=16,
        interval=1,
        resize=(32, 32),
        crop=32,
    )
    found, generated = read_annotations(ucf), read_annotations(cfg)
    assert found.classes == generated.classes
    assert [s.label for s in found.splits["test"]] == [s.label for s in generated.splits["test"]]
    with open(tmp_path / "durations.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected = [s.extra["duration"] for split in ("train", "test") for s in generated.splits[split]]
    assert [int(r["duration"]) for r in rows] == expected
    assert rows[6] == {
        "video": "speed-up/v_speed-up_g03_c01.mp4",
        "class": "speed-up",
        "duration": str(expected[6]),
    }
    decoded = collate(list(build_dataset(ucf, "test", train=False, seed=0)))["video"]
    original = collate(list(build_dataset(cfg, "test", train=False, seed=0)))["video"]
    assert decoded.shape == original.shape == (3, 1, 3, 16, 32, 32)
    # Decoded clip i is generated clip i: lossy (noise, 4:2:0 chroma) but far closer to its own
    # original than to any other video's.
    gaps = (decoded[:, None] - original[None]).abs().mean(dim=(2, 3, 4, 5, 6)) * 0.225
    assert gaps.argmin(dim=1).tolist() == [0, 1, 2]
    assert gaps.diagonal().max() < 0.06
    assert (gaps + torch.eye(3)).min() > 2 * gaps.diagonal().max()


def test_synth_command_errors_and_writes(tmp_path, cli_inproc):
    bad = cli_inproc("data", "synth", "--out", str(tmp_path), "--kind", "ucf101")
    assert_one_line_error(bad, "--kind 'ucf101'", "multiduration")
    odd = cli_inproc("data", "synth", "--out", str(tmp_path), "--height", "33")
    assert_one_line_error(odd, "must be even")
    ok = cli_inproc(
        "data",
        "synth",
        "--out",
        str(tmp_path),
        "--num-classes",
        "2",
        "--videos-per-class",
        "1",
        "--test-videos-per-class",
        "1",
        "--height",
        "32",
        "--width",
        "32",
    )
    assert ok.returncode == 0, ok.stderr
    assert "wrote 2 training and 2 test videos" in ok.stdout
    assert len(list((tmp_path / "videos").rglob("*.mp4"))) == 4


def test_preview_per_class_shows_one_row_per_class(tmp_path, cli_inproc, monkeypatch):
    import mtbench.data.preview as preview

    shown = {}
    monkeypatch.setattr(
        preview, "contact_sheet", lambda items, classes, cfg, out: shown.update(items=items)
    )
    result = cli_inproc(
        "data",
        "preview",
        "--dataset",
        "multiduration",
        "--out",
        str(tmp_path / "s.png"),
        "--per-class",
        "--crop",
        "32",
        "--frames",
        "8",
        "--interval",
        "3",
    )
    assert result.returncode == 0, result.stderr
    assert [item["label"] for item in shown["items"]] == list(range(10))
    assert all("duration" in item for item in shown["items"])


def _small_3d(classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(3, 16, 3, padding=1),
        nn.BatchNorm3d(16),
        nn.ReLU(),
        nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(16, 32, 3, padding=1),
        nn.BatchNorm3d(32),
        nn.ReLU(),
        nn.MaxPool3d(2),
        nn.Conv3d(32, 64, 3, padding=1),
        nn.BatchNorm3d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(64, classes),
    )


def _held_out_accuracy(model: nn.Module, train: dict, test: dict, epochs: int) -> float:
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(epochs):
        fit_epoch(model, optimiser, train)
    return held_out_top1(model, test)


@pytest.mark.slow
def test_frames_alone_are_not_enough(one_thread):
    """Two time-reversal pairs: TSN-R18 (frames without order) can at best tell the pair (50%);
    a small 3D CNN sees the motion. Held-out videos, same data and optimiser for both; TSN
    samples as its paper does, one frame per segment (4 of the 12), which no order can help."""
    from mtbench.registry import create_model

    cfg = DataConfig(
        "multiduration",
        num_classes=4,
        videos_per_class=48,
        test_videos_per_class=16,
        frames=12,
        interval=1,
        resize=(32, 32),
        crop=32,
        source_size=(32, 32),
        min_duration=3,
        max_duration=12,
        distractors=1,
    )
    train = collate(list(build_dataset(cfg, "train", train=True, seed=0)))
    test = collate(list(build_dataset(cfg, "test", train=False, seed=0)))
    torch.manual_seed(0)
    sparse = {**train, "video": train["video"][:, :, 1::3]}
    sparse_test = {**test, "video": test["video"][:, :, :, 1::3]}  # (N, views, C, T, H, W)
    frame_only = _held_out_accuracy(create_model("tsn-r18", num_classes=4), sparse, sparse_test, 4)
    torch.manual_seed(0)
    motion = _held_out_accuracy(_small_3d(4), train, test, 12)
    assert frame_only <= 0.65
    assert motion >= frame_only + 0.2


def test_shipped_suite_validates(cli_inproc, tmp_path):
    result = cli_inproc("run", "suites/multiduration.toml", "--dry-run", "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "multiduration: 27 cells" in result.stdout
    assert result.stdout.count("tsn-r18 ") == 3 and result.stdout.count("mtnet-32 r=1 g=8") == 3
