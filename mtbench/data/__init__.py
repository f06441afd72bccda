"""Video data: annotation readers per layout, one clip dataset, sampling, transforms.

    from mtbench.data import DataConfig, read_annotations, build_dataset, collate

Nothing here knows about training; the trainer consumes `build_dataset` and `collate`.
"""

from mtbench.data import annotations as _layouts  # noqa: F401  (registers the file layouts)
from mtbench.data import multiduration as _multiduration  # noqa: F401  (registers it)
from mtbench.data import synthetic as _synthetic  # noqa: F401  (registers "synthetic")
from mtbench.data.annotations import read_annotations
from mtbench.data.config import DataConfig, DataError
from mtbench.data.dataset import ClipDataset, build_dataset, collate
from mtbench.data.fingerprint import data_fingerprint
from mtbench.data.kinds import DATASETS, Annotations, Sample, register_dataset

__all__ = [
    "DATASETS",
    "Annotations",
    "ClipDataset",
    "DataConfig",
    "DataError",
    "Sample",
    "build_dataset",
    "collate",
    "data_fingerprint",
    "read_annotations",
    "register_dataset",
]
