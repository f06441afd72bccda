"""Where a suite's store keeps a cell's files: `<store>/cells/<cell_key>/` (checkpoints, the
training log, a runtime's export). Declared below every layer that writes there (training,
deployment, the runner), so none of them owns the store's layout."""

from __future__ import annotations

from pathlib import Path

CELLS = "cells"


def cell_folder(store: Path, cell_key: str) -> Path:
    """The folder of one cell's files in `store`."""
    return store / CELLS / cell_key
