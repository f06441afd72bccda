"""Every layout, from videos the tests write: labels, class order, splits, clips, bad files."""

import shutil

import numpy as np
import pytest
import torch
from videos import (
    FRAMES,
    HMDB_CLASSES,
    KINETICS_CLASSES,
    UCF_CLASSES,
    level,
    write_all,
    write_video,
)

from mtbench.data import DataConfig, build_dataset, collate, read_annotations
from mtbench.data.decode import VideoSource

MEAN, STD = 0.45, 0.225


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("layouts"))


def config(trees, kind, **knobs):
    root, ann = trees[kind]
    knobs = {"frames": 4, "interval": 2, "resize": (32, 40), "crop": 28, **knobs}
    return DataConfig(kind, root=str(root), annotations=str(ann), **knobs)


def expected_label(kind, key):
    """The label each fixture file must get, from how videos.py named it."""
    if kind == "ucf101":
        return UCF_CLASSES.index(key.split("/")[0])
    if kind == "hmdb51":
        return sorted(HMDB_CLASSES).index(key.split("/")[0])
    if kind == "kinetics":  # youtube id "vid<i><t|v>" belongs to KINETICS_CLASSES[i]
        name = key.rsplit("/", 1)[-1]
        return sorted(KINETICS_CLASSES).index(KINETICS_CLASSES[int(name[3])])
    return int(key.rsplit("/", 1)[-1][-2 if kind == "frames" else -6])


CLASSES = {
    "ucf101": UCF_CLASSES,
    "hmdb51": sorted(HMDB_CLASSES),
    "kinetics": sorted(KINETICS_CLASSES),
    "frames": ["0", "1", "2"],
    "list": ["0", "1", "2"],
}


@pytest.mark.parametrize("kind", list(CLASSES))
def test_layout_classes_labels_and_splits(trees, kind):
    found = read_annotations(config(trees, kind))
    assert found.classes == CLASSES[kind]
    for split in ("train", "test"):
        samples = found.splits[split]
        assert len(samples) == 3
        assert sorted(s.label for s in samples) == [0, 1, 2]
        for s in samples:
            assert s.label == expected_label(kind, s.key), s.key
            assert s.path.exists()
    expected_missing = ["Mixing/v_Mixing_g03_c01.avi"] if kind == "ucf101" else []
    assert found.missing == {"train": [], "test": expected_missing}


def test_kinetics_finds_nested_and_flat_files_and_ignores_unlabelled_test(trees):
    found = read_annotations(config(trees, "kinetics"))
    assert all(s.key.startswith("train/") for s in found.splits["train"])
    assert all("/" not in s.key for s in found.splits["test"])  # validate: flat


def levels(video: torch.Tensor) -> list[int]:
    """Grey level per frame of a normalised (3, T, H, W) clip of the flat test videos."""
    return [round(float(x)) for x in ((video * STD + MEAN) * 255).mean(dim=(0, 2, 3))]


@pytest.mark.parametrize("kind", list(CLASSES))
def test_training_clip_shape_range_and_frames(trees, kind, one_thread):
    data = build_dataset(config(trees, kind), "train", train=True, seed=0)
    item = data[1]
    video = item["video"]
    assert video.shape == (3, 4, 28, 28) and video.dtype == torch.float32
    assert video.min() >= (0 - MEAN) / STD - 1e-5 and video.max() <= (1 - MEAN) / STD + 1e-5
    assert item["label"] == data.samples[1].label and item["skipped"] == ()
    got = levels(video)
    start = round((got[0] - level(0)) / 10)
    assert got == pytest.approx([level(start + 2 * k) for k in range(4)], abs=6)


def test_eval_views_are_distinct_windows_clip_major(trees, one_thread):
    data = build_dataset(config(trees, "ucf101"), "test", train=False, seed=0, clips=3, crops=3)
    video = data[0]["video"]
    assert video.shape == (9, 3, 4, 28, 28)
    firsts = [levels(v)[0] for v in video]
    assert firsts[0:3] == [firsts[0]] * 3  # the 3 crops of clip 0 share its window
    starts = sorted({round((f - level(0)) / 10) for f in firsts})
    # MMAction2's test sampling: room 20 - 7 + 1 = 14, starts at centres of 3 thirds
    assert starts == [2, 7, 11]


@pytest.mark.parametrize(
    ("name", "codec"), [("a.avi", "mpeg4"), ("b.avi", "mjpeg"), ("c.mp4", None)]
)
def test_seeking_reads_exactly_the_requested_frames(tmp_path, name, codec):
    source = VideoSource(write_video(tmp_path / name, codec=codec))
    assert source.num_frames == FRAMES
    wanted = np.array([17, 9, 9, 19, 2])
    got = [round(float(f.mean())) for f in source.read(wanted)]
    assert got == pytest.approx([level(i) for i in wanted], abs=4)


def test_a_short_video_loops(tmp_path, one_thread):
    from videos import write_lines

    write_video(tmp_path / "v" / "short.mp4", n=5)
    write_lines(tmp_path / "l" / "train.txt", ["short.mp4 0"])
    write_lines(tmp_path / "l" / "test.txt", ["short.mp4 0"])
    cfg = DataConfig(
        "list",
        root=str(tmp_path / "v"),
        annotations=str(tmp_path / "l"),
        frames=4,
        interval=2,
        resize=(32, 32),
        crop=28,
    )
    item = build_dataset(cfg, "train", train=True, seed=0)[0]
    got = levels(item["video"])
    start = round((got[0] - level(0)) / 10)
    assert got == pytest.approx([level((start + 2 * k) % 5) for k in range(4)], abs=6)


def test_multigrid_key_keeps_the_time_span(trees, one_thread):
    data = build_dataset(config(trees, "list"), "train", train=True, seed=0)
    video = data[(0, 2, 14)]["video"]
    assert video.shape == (3, 2, 14, 14)
    first, second = levels(video)
    assert second - first == pytest.approx(10 * 4, abs=6)  # interval 2 * 4/2 = 4


@pytest.fixture
def broken_ucf(trees, tmp_path):
    root, ann = trees["ucf101"]
    shutil.copytree(root, tmp_path / "UCF-101")
    broken = tmp_path / "UCF-101" / "ApplyLipstick"
    for video in broken.iterdir():
        video.write_bytes(video.read_bytes()[:100])
    return DataConfig(
        "ucf101",
        root=str(tmp_path / "UCF-101"),
        annotations=str(ann),
        frames=4,
        interval=2,
        resize=(32, 40),
        crop=28,
    )


def test_an_unreadable_video_is_replaced_in_training_and_counted(broken_ucf, one_thread):
    data = build_dataset(broken_ucf, "train", train=True, seed=0)
    bad = next(i for i, s in enumerate(data.samples) if s.key.startswith("ApplyLipstick"))
    item = data[bad]
    assert item["skipped"] == ("ApplyLipstick/v_ApplyLipstick_g01_c01.avi",)
    assert item["index"] != bad and item["label"] == data.samples[item["index"]].label
    assert item["video"].shape == (3, 4, 28, 28)
    assert data.skipped == ["ApplyLipstick/v_ApplyLipstick_g01_c01.avi"]
    assert data[bad]["index"] == item["index"]  # the replacement is deterministic


def test_an_unreadable_video_is_missing_at_evaluation(broken_ucf, one_thread):
    data = build_dataset(broken_ucf, "test", train=False, seed=0, clips=2)
    items = [data[i] for i in range(len(data))]
    batch = collate(items)
    assert batch["missing"] == ["ApplyLipstick/v_ApplyLipstick_g02_c01.avi"]
    assert batch["skipped"] == batch["missing"]
    assert batch["video"].shape == (2, 2, 3, 4, 28, 28)
    kept = [it for it in items if it["video"] is not None]
    assert batch["label"].tolist() == [it["label"] for it in kept]
    assert batch["label"].dtype == batch["index"].dtype == torch.int64
