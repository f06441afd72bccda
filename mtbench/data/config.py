"""The suite's `[data]` section as one frozen dataclass, and the one error bad data raises."""

from __future__ import annotations

from dataclasses import dataclass


class DataError(Exception):
    """Bad annotations or a bad root: one line naming the file (and line) and what is wrong.

    The CLI and the suite runner turn it into exit code 2 before anything runs.
    """


@dataclass(frozen=True)
class DataConfig:
    """The `[data]` knobs, key for key (defaults follow the MTNet paper at 112 px)."""

    dataset: str
    root: str = ""
    annotations: str = ""  # file or folder, per layout; "" means `root`
    split: int = 1
    frames: int = 16  # T
    interval: int = 2  # temporal stride between sampled frames
    resize: tuple[int, int] = (128, 160)  # short side: training jitters in it, eval uses [0]
    crop: int = 112
    workers: int = 2
    decoder: str = "pyav"  # or "torchcodec"
    decode_threads: int = 0  # per video; 0: the cores shared over the workers
    decode_device: str = "cpu"  # "cuda": torchcodec on the GPU (NVDEC)
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    # synthetic and multiduration only (file layouts ignore them):
    num_classes: int = 10
    videos_per_class: int = 16
    test_videos_per_class: int = 4
    source_frames: int = 64
    source_size: tuple[int, int] = (128, 171)  # H, W of each generated source video
    # multiduration only: the action's length in frames, and what clutters the scene
    min_duration: int = 4
    max_duration: int = 16
    distractors: int = 2  # smaller objects drifting at constant speed
    noise: float = 8.0  # std of Gaussian pixel noise, in 0..255 levels

    def annotations_path(self) -> str:
        return self.annotations or self.root
