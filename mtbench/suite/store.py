"""The result store: a suite folder's JSON records, one per line, many writers at once.

Every writing process appends to a file of its own, `results.d/<start>-<host>-<pid>-<id>.jsonl`,
so no two writers ever share a file and nothing rests on `O_APPEND` being atomic, which NFS
and Lustre, where cluster stores live, do not promise. Stores written before this layout
(and `mtbench merge`'s output) are one `results.jsonl`; readers take it first, then the
writers' files in the order the writers started. When a cell is measured again, the latest
record for its `cell_key` wins.

Records are appended with write + fsync, one line at a time, so a writer killed mid-write
leaves at most one torn last line in its own file; readers skip it and everything else stays
intact.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mtbench.measure.machine import machine_key

STORE_FILE = "results.jsonl"
WRITERS_DIR = "results.d"

# One file name per (process, folder): a forked or requeued process gets a new one.
_writer_files: dict[tuple[int, Path], Path] = {}


@dataclass
class StoreContents:
    records: list[dict[str, Any]]
    unreadable: int  # lines skipped: a torn last line, a corrupt line


def store_path(folder: str | os.PathLike[str]) -> Path:
    """The single-file store of old layouts and of `mtbench merge`."""
    return Path(folder) / STORE_FILE


def store_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The store's files in read order: results.jsonl, then each writer's by start time."""
    folder = Path(folder)
    files = [store_path(folder)] if store_path(folder).is_file() else []
    return files + sorted((folder / WRITERS_DIR).glob("*.jsonl"))


def is_store(folder: str | os.PathLike[str]) -> bool:
    return bool(store_files(folder))


def writer_file(directory: Path) -> Path:
    """This process's own file in `directory`, named so that names sort by start time."""
    key = (os.getpid(), directory.resolve())
    if key not in _writer_files:
        start = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "host"
        name = f"{start}-{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        _writer_files[key] = directory / name
    return _writer_files[key]


def append_line(directory: Path, record: dict[str, Any]) -> None:
    """Append one record durably to this process's own file in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = writer_file(directory)
    new = not path.exists()
    data = (json.dumps(record, sort_keys=True, allow_nan=False) + "\n").encode()
    if not new and path.stat().st_size and not _ends_with_newline(path):
        data = b"\n" + data  # close off a line torn by a failed write
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:  # the file's name must survive a crash as well as its content
        _fsync_dir(directory)


def append_record(folder: str | os.PathLike[str], record: dict[str, Any]) -> None:
    append_line(Path(folder) / WRITERS_DIR, record)


def read_lines(files: Iterable[Path]) -> StoreContents:
    """Every complete record of `files`, in order; torn or unparsable lines are counted."""
    records: list[dict[str, Any]] = []
    unreadable = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:  # compacted away by `mtbench merge` since it was listed
            continue
        for line in text.splitlines(keepends=True):
            record = None
            if line.endswith("\n"):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    pass
            if isinstance(record, dict):
                records.append(record)
            elif line.strip():
                unreadable += 1
    return StoreContents(records, unreadable)


def read_store(folder: str | os.PathLike[str]) -> StoreContents:
    """The one reader of a store: every record of every file, and how many lines it skipped."""
    return read_lines(store_files(folder))


def read_records(folder: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete record, oldest first; torn or unparsable lines are skipped."""
    return read_store(folder).records


def write_records(folder: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> None:
    """Replace the store with `records`: results.jsonl atomically (temporary file, fsync,
    rename), then the writers' files it replaces. A writer's file that grew meanwhile is
    kept, so a record appended during the rewrite is not lost."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    replaced = {p: p.stat().st_size for p in store_files(folder) if p != store_path(folder)}
    path = store_path(folder)
    tmp = path.with_suffix(f".jsonl.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, sort_keys=True, allow_nan=False) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    for writer, size in replaced.items():
        if writer.stat().st_size == size:
            writer.unlink()
    _fsync_dir(folder)


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def latest_by_cell(
    records: Iterable[dict[str, Any]], per_machine: bool = False
) -> dict[str, dict[str, Any]]:
    """The last record of each `cell_key`, in first-seen order (records without a key kept).
    `per_machine` keeps the last of each cell on each machine: one cell measured on two
    machines is two results, not a record and its replacement."""
    latest: dict[str, dict[str, Any]] = {}
    for i, record in enumerate(records):
        key = record.get("cell_key") or f"#{i}"
        if per_machine:
            key += f" @ {machine_key(record.get('env'))}"
        latest[key] = record
    return latest


def ok_records(folder: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The latest record of each cell whose latest record is ok: the cells a run skips."""
    latest = latest_by_cell(read_records(folder))
    return {key: record for key, record in latest.items() if record.get("status") == "ok"}


def ok_keys(folder: str | os.PathLike[str]) -> set[str]:
    return set(ok_records(folder))


def find_stores(root: str | os.PathLike[str]) -> list[Path]:
    """Folders under `root` (itself included) that hold a store, sorted."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = {p.parent for p in root.rglob(STORE_FILE)}
    found |= {p.parent.parent for p in root.rglob(f"{WRITERS_DIR}/*.jsonl")}
    return sorted(found)
