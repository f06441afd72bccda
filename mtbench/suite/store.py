"""The result store: one `results.jsonl` per suite folder, one JSON record per line.

Records are appended with write + flush + fsync, one line at a time, so a run killed
mid-write leaves at most one torn last line; readers skip it and everything before it
stays intact. When a cell is measured again, the latest record for its `cell_key` wins.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

STORE_FILE = "results.jsonl"


def store_path(folder: str | os.PathLike[str]) -> Path:
    return Path(folder) / STORE_FILE


def append_record(folder: str | os.PathLike[str], record: dict[str, Any]) -> None:
    """Append one record durably; a torn line left by an earlier kill is closed off first.

    One O_APPEND write per record, so shards appending to one store never interleave lines.
    """
    path = store_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
    if path.exists() and path.stat().st_size and not _ends_with_newline(path):
        line = b"\n" + line
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_records(folder: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Replace the store with `records` atomically (write a temporary file, fsync, rename)."""
    path = store_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def read_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record in file order; torn or unparsable lines are skipped."""
    path = store_path(folder)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


def latest_by_cell(records: Iterable[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The last record of each `cell_key`, in first-seen order (records without a key kept)."""
    latest: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(records):
        latest[record.get("cell_key") or f"#{i}"] = record
    return latest


def find_stores(root: str | os.PathLike[str]) -> list[Path]:
    """Folders under `root` (itself included) that hold a results.jsonl, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.parent for p in root.rglob(STORE_FILE))
