"""Checkpoints: one dict holds everything a run needs to continue bit for bit (PySlowFast's
utils/checkpoint.py), written atomically so a kill mid-write leaves the previous one intact.

Everything in it is a tensor or a plain Python value (numpy's RNG state is stored as lists),
so `torch.load(..., weights_only=True)` reads it: the safe loader also serves `weights=` and
`init_from`, which take files from elsewhere."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mtbench.weights import load_checkpoint as load_checkpoint
from mtbench.weights import model_state as model_state

LAST = "last.pt"


def rng_state() -> dict[str, Any]:
    """Every random generator the training loop draws from, in this process."""
    state = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_state(),
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _numpy_state() -> list[Any]:
    name, keys, position, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), position, has_gauss, cached]


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    name, keys, position, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """torch.save to a temporary file, fsync, rename over `path`, fsync the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        torch.save(state, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
