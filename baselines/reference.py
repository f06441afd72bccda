"""The published sizes of the baselines (`reference.csv`), one row per number and its source.

Columns: model and its keyword arguments (JSON), the class count the number assumes, params,
whether that count is exact (else rounded as published: compared within 1%), GFLOPs (one fused
multiply-add = one FLOP; empty when the source gives none) with the input (T x H x W, batch 1)
it was counted at, whether normalisation layers were counted, and the source.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE_CSV = Path(__file__).with_name("reference.csv")
PARAMS_TOLERANCE = 0.01  # rounded published counts
GFLOPS_TOLERANCE = 0.03


@dataclass(frozen=True)
class ReferenceRow:
    model: str
    kwargs: dict[str, Any]
    num_classes: int
    params: int
    exact: bool
    gflops: float | None
    input: tuple[int, int, int] | None
    count_norm: bool
    source: str

    @property
    def label(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.model}[{args}]" if args else self.model

    @property
    def params_tolerance(self) -> float:
        return 0.0 if self.exact else PARAMS_TOLERANCE

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """(B, C, T, H, W) of the published FLOP count."""
        return None if self.input is None else (1, 3, *self.input)


def _input(text: str) -> tuple[int, int, int] | None:
    if not text:
        return None
    t, h, w = (int(v) for v in text.split("x"))
    return t, h, w


def load_reference(path: Path = REFERENCE_CSV) -> list[ReferenceRow]:
    """Rows of the reference table; comment lines start with '#'."""
    with path.open(newline="") as f:
        lines = [line for line in f if not line.startswith("#")]
    return [
        ReferenceRow(
            model=row["model"],
            kwargs=json.loads(row["kwargs"] or "{}"),
            num_classes=int(row["num_classes"]),
            params=int(row["params"]),
            exact=row["exact"] == "exact",
            gflops=float(row["gflops"]) if row["gflops"] else None,
            input=_input(row["input"]),
            count_norm=row["count_norm"] == "yes",
            source=row["source"],
        )
        for row in csv.DictReader(lines)
    ]


# Every baseline family, in the order tables list them.
BASELINE_FAMILIES = (
    "r3d",
    "r2plus1d",
    "mc3",
    "s3d",
    "i3d",
    "csn",
    "slowfast",
    "srtg",
    "tsm",
    "tsn",
    "mfnet",
    "x3d",
    "mvit",
    "swin3d",
    "videomae",
    "timesformer",
    "vivit",
)

# The clip (T, H, W) each family was trained and published at: what "canonical input" means
# in the zoo table and in the forward/backward check of `benchmarks/baselines_zoo.py`.
CANONICAL_INPUT: dict[str, tuple[int, int, int]] = {
    "r3d": (16, 112, 112),
    "r2plus1d": (16, 112, 112),
    "mc3": (16, 112, 112),
    "s3d": (16, 224, 224),
    "i3d": (64, 224, 224),
    "i3d-r50": (8, 224, 224),
    "csn": (32, 224, 224),
    "slowfast": (32, 224, 224),
    "srtg": (16, 224, 224),
    "slow-r50": (8, 224, 224),
    "tsm": (8, 224, 224),
    "tsn": (8, 224, 224),
    "mfnet": (16, 224, 224),
    # X3D: one network trained at four inputs (the published GFLOPs are at the larger test crop)
    "x3d-xs": (4, 160, 160),
    "x3d-s": (13, 160, 160),
    "x3d-m": (16, 224, 224),
    "x3d-l": (16, 312, 312),
    # Transformers: their position tables fix the clip (MViT, Hugging Face's models)
    "mvit": (16, 224, 224),
    "swin3d": (16, 224, 224),
    "videomae": (16, 224, 224),
    "timesformer": (8, 224, 224),
    "vivit": (32, 224, 224),
}


def canonical_input(name: str, family: str) -> tuple[int, int, int]:
    """A model's canonical (T, H, W): by name where it differs from its family's."""
    return CANONICAL_INPUT.get(name, CANONICAL_INPUT[family])
