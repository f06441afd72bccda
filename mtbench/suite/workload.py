"""The training workload of a suite: its [data], [train] and [eval] sections.

One table of defaults per section, each key documented (PySlowFast's `defaults.py` is the
model): the suite validates against these tables, `[[models]]` entries override any key with
a dotted key (`train.seed = [0, 1, 2]`), and the trainer reads the resolved values. The
defaults follow the MTNet paper where it says (16 frames at interval 2, LR 0.1, weight decay
1e-6) and PySlowFast / torchvision's video reference where it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mtbench.checks import (
    Field,
    boolean,
    choice,
    is_int,
    non_negative_int,
    positive_int,
)

DATASET_KINDS = ("ucf101", "hmdb51", "kinetics", "frames", "list", "synthetic", "multiduration")
SCHEDULES = ("step", "cosine")
AMP_DTYPES = ("bfloat16", "float16")


def _number_in(low: float, high: float | None = None, *, open_low: bool = False) -> Callable:
    """The check that a value is a number >= `low` (> with `open_low`), and <= `high`."""

    def check(v: Any) -> str | None:
        ok = isinstance(v, int | float) and not isinstance(v, bool)
        ok = ok and (v > low if open_low else v >= low) and (high is None or v <= high)
        bound = f"> {low}" if open_low else f">= {low}"
        return (
            None
            if ok
            else f"expected a number {bound}{'' if high is None else f' and <= {high}'}, got {v!r}"
        )

    return check


def _any_string(v: Any) -> str | None:
    return None if isinstance(v, str) else f"expected a string, got {v!r}"


def _size_range(v: Any) -> str | None:
    """A short side: one integer, or [low, high] to jitter in training."""
    if is_int(v) and v >= 1:
        return None
    ok = isinstance(v, list) and len(v) == 2 and all(is_int(s) and s >= 1 for s in v)
    if ok and v[0] <= v[1]:
        return None
    return f"expected an integer or [low, high] with 1 <= low <= high, got {v!r}"


def _pair(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) == 2 and all(is_int(s) and s >= 1 for s in v)
    return None if ok else f"expected [H, W] with positive integers, got {v!r}"


def _triple(v: Any) -> str | None:
    ok = isinstance(v, list) and len(v) == 3
    ok = ok and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
    return None if ok else f"expected three numbers (one per RGB channel), got {v!r}"


def _epochs_list(v: Any) -> str | None:
    ok = isinstance(v, list) and all(is_int(s) and s >= 1 for s in v)
    if ok and v == sorted(set(v)):
        return None
    return f"expected increasing epoch numbers >= 1, e.g. [20, 30], got {v!r}"


def _names(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)
    return None if ok else f"expected a list of module names, e.g. ['stem', 'layer1'], got {v!r}"


DATA_FIELDS = {
    "dataset": Field(choice(DATASET_KINDS), "layout of the videos and annotations"),
    "root": Field(_any_string, "folder of the videos (or frame folders)", ""),
    "annotations": Field(_any_string, "split files: a folder or a file, per layout", ""),
    "split": Field(positive_int, "official split number (UCF-101, HMDB-51: 1..3)", 1),
    "frames": Field(positive_int, "T: frames per clip", 16),
    "interval": Field(positive_int, "temporal stride between sampled frames", 2),
    "resize": Field(_size_range, "short side; a range jitters in training", [128, 160]),
    "crop": Field(positive_int, "square crop size", 112),
    "workers": Field(non_negative_int, "DataLoader worker processes", 2),
    "decoder": Field(choice(("pyav", "torchcodec")), "video reader: pyav or torchcodec", "pyav"),
    "decode_threads": Field(
        non_negative_int, "decoder threads per video (0: cores / workers, at least 1)", 0
    ),
    "decode_device": Field(choice(("cpu", "cuda")), "torchcodec: cuda decodes on NVDEC", "cpu"),
    "mean": Field(_triple, "normalisation mean (RGB, 0..1)", [0.45, 0.45, 0.45]),
    "std": Field(_triple, "normalisation std (RGB, 0..1)", [0.225, 0.225, 0.225]),
    "num_classes": Field(positive_int, "generated data: number of classes", 10),
    "videos_per_class": Field(positive_int, "generated data: training videos per class", 16),
    "test_videos_per_class": Field(positive_int, "generated data: test videos per class", 4),
    "source_frames": Field(positive_int, "synthetic only: frames per generated video", 64),
    "source_size": Field(_pair, "generated data: [H, W] of a generated video", [128, 171]),
    "min_duration": Field(positive_int, "multiduration only: shortest action, frames", 4),
    "max_duration": Field(positive_int, "multiduration only: longest action, frames", 16),
    "distractors": Field(non_negative_int, "multiduration only: drifting distractors", 2),
    "noise": Field(_number_in(0), "multiduration only: pixel noise std (0..255 levels)", 8.0),
}

TRAIN_FIELDS = {
    "epochs": Field(
        non_negative_int,
        "training epochs (0: evaluate the model as built, e.g. from weights=)",
        40,
    ),
    "batch_size": Field(positive_int, "clips per step (per process under DDP)", 16),
    "lr": Field(_number_in(0, open_low=True), "base learning rate (SGD)", 0.1),
    "momentum": Field(_number_in(0, 1), "SGD momentum", 0.9),
    "nesterov": Field(boolean, "Nesterov momentum", False),
    "weight_decay": Field(_number_in(0), "L2 weight decay (the paper's 1e-6)", 1e-6),
    "schedule": Field(choice(SCHEDULES), "step: x lr_gamma at lr_steps; cosine: to 0", "step"),
    "lr_steps": Field(_epochs_list, "epochs where the LR is multiplied by lr_gamma", [20, 30]),
    "lr_gamma": Field(_number_in(0, 1, open_low=True), "factor applied at each LR step", 0.1),
    "warmup_epochs": Field(_number_in(0), "linear warm-up from warmup_factor x lr", 0),
    "warmup_factor": Field(_number_in(0, 1), "LR at the start of warm-up, relative to lr", 0.1),
    "label_smoothing": Field(_number_in(0, 1), "cross-entropy label smoothing", 0.0),
    "clip_grad": Field(_number_in(0), "max gradient L2 norm; 0 = off", 0.0),
    "amp": Field(boolean, "autocast (bf16 on CPU; amp_dtype on CUDA)", False),
    "amp_dtype": Field(
        choice(AMP_DTYPES), "autocast dtype on CUDA (float16 adds a scaler)", "bfloat16"
    ),
    "multigrid": Field(boolean, "Wu et al. 2020 long cycle over (T, crop)", False),
    "short_cycle": Field(boolean, "with multigrid: the short cycle over crop size", False),
    "seed": Field(non_negative_int, "seeds weights, data order and clip sampling", 0),
    "checkpoint_every": Field(positive_int, "epochs between checkpoints", 1),
    "init_from": Field(_any_string, "checkpoint to fine-tune from ('' = none)", ""),
    "freeze": Field(_names, "modules whose parameters stay untrained", []),
    "timeout": Field(positive_int, "seconds before a stuck collective fails the cell", 600),
}

EVAL_FIELDS = {
    "clips": Field(positive_int, "K temporal clips per video", 10),
    "crops": Field(choice((1, 3)), "spatial crops per clip: 1 centre, 3 ends + centre", 3),
    "batch_size": Field(positive_int, "videos per evaluation step", 16),
}

# [data] keys added after stores existed: a cell key hashes them only when set, so the cells
# of existing suites keep their keys (and their records stay comparable).
KEY_WHEN_SET = {"decoder", "decode_threads", "decode_device"}

WORKLOAD_SECTIONS = {"data": DATA_FIELDS, "train": TRAIN_FIELDS, "eval": EVAL_FIELDS}
# Values that are lists themselves: only a list of lists is a grid of them.
WORKLOAD_LIST_VALUED = {
    "data.resize",
    "data.mean",
    "data.std",
    "data.source_size",
    "train.lr_steps",
    "train.freeze",
}


def workload_defaults(section: str, table: dict[str, Any]) -> dict[str, Any]:
    """The section with every key resolved: the suite's value, else the documented default."""
    fields = WORKLOAD_SECTIONS[section]
    return {k: table.get(k, f.default) for k, f in fields.items()}


def flatten_overrides(entry: dict[str, Any]) -> dict[str, Any]:
    """A [[models]] entry's `train = {seed = [0, 1]}` tables as dotted keys `train.seed`."""
    flat: dict[str, Any] = {}
    for key, value in entry.items():
        if key in WORKLOAD_SECTIONS and isinstance(value, dict):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


@dataclass(frozen=True)
class Workload:
    """What a training cell trains on and how: resolved [data], [train] and [eval]."""

    data: dict[str, Any]
    train: dict[str, Any]
    eval: dict[str, Any]

    def config(self) -> dict[str, Any]:
        """The sections as a cell key hashes them (see KEY_WHEN_SET)."""
        data = {
            k: v
            for k, v in self.data.items()
            if k not in KEY_WHEN_SET or v != DATA_FIELDS[k].default
        }
        return {"data": data, "train": self.train, "eval": self.eval}

    def data_config(self):
        """The resolved [data] section as the data package's (hashable) DataConfig."""
        from mtbench.data import DataConfig  # decoding libraries load only when a suite trains

        tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in self.data.items()}
        if not isinstance(self.data["resize"], list):
            tuples["resize"] = (self.data["resize"], self.data["resize"])
        return DataConfig(**tuples)
