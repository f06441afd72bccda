"""A short hash that says which copy of a dataset a result came from.

Published accuracy gaps are often a different copy of the data (missing videos, another
decoder) rather than a different model, so the record carries the split's file list and
the decoder's name and version as one hash.
"""

from __future__ import annotations

import hashlib

from mtbench.data.config import DataConfig
from mtbench.data.kinds import DATASETS, Annotations


def data_fingerprint(cfg: DataConfig, annotations: Annotations, split: str) -> str:
    """16 hex digits over the split's sorted (relative path, label) list and the decoder."""
    digest = hashlib.sha256()
    digest.update(DATASETS[cfg.dataset].decoder(cfg).encode())
    for key, label in sorted((s.key, s.label) for s in annotations.splits[split]):
        digest.update(f"\n{key}\t{label}".encode())
    return digest.hexdigest()[:16]
