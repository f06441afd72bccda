"""One annotation reader per layout: each turns the files a researcher has into `Annotations`.

Every bad-annotation case raises `DataError` with one line naming the file (and line
number): a missing root or split file, a class not in the class list, a label out of range,
an empty split. Listed videos whose file does not exist are not errors: they are reported
in `Annotations.missing` (and by `mtbench data inspect`).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from mtbench.data.config import DataConfig, DataError
from mtbench.data.decode import (
    VIDEO_EXTENSIONS,
    jpeg_decoder,
    open_frames,
    open_video,
    video_decoder,
)
from mtbench.data.kinds import DATASETS, Annotations, Sample, register_dataset

SPLITS = ("train", "test")


def read_annotations(cfg: DataConfig) -> Annotations:
    """The classes, the samples per split and the missing files of `cfg`'s dataset."""
    if cfg.dataset not in DATASETS:
        raise DataError(f"dataset {cfg.dataset!r} is not one of: {', '.join(sorted(DATASETS))}")
    annotations = DATASETS[cfg.dataset].read(cfg)
    for split in SPLITS:
        if not annotations.splits[split] and not annotations.missing[split]:
            raise DataError(f"{cfg.annotations_path()}: the {split} split lists no videos")
    return annotations


def _root(cfg: DataConfig) -> Path:
    root = Path(cfg.root)
    if not cfg.root or not root.is_dir():
        raise DataError(f"root {cfg.root!r}: no such folder")
    return root


def _annotation_dir(cfg: DataConfig) -> Path:
    folder = Path(cfg.annotations_path())
    if not folder.is_dir():
        raise DataError(f"annotations {str(folder)!r}: no such folder")
    return folder


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped text) of non-blank lines; CRLF and trailing spaces are fine."""
    if not path.is_file():
        raise DataError(f"{path}: no such split file")
    with open(path, encoding="utf-8-sig") as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                yield number, line.strip()


def _int(text: str, path: Path, number: int, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise DataError(f"{path}:{number}: {what} {text!r} is not an integer") from None


def _collect(
    root: Path, entries: Iterable[tuple[str, int, dict]]
) -> tuple[list[Sample], list[str]]:
    """Samples for the entries whose file exists under root, and the missing relative paths."""
    samples, missing = [], []
    for rel, label, fields in entries:
        path = root / rel
        if path.exists():
            samples.append(Sample(path=path, label=label, key=rel, **fields))
        else:
            missing.append(rel)
    return samples, missing


def _build(
    cfg: DataConfig, root: Path, classes: list[str], entries: dict[str, list]
) -> Annotations:
    splits, missing = {}, {}
    for split in SPLITS:
        splits[split], missing[split] = _collect(root, entries[split])
    return Annotations(cfg.dataset, classes, splits, missing)


@register_dataset("ucf101", open=open_video, decoder=video_decoder)
def read_ucf101(cfg: DataConfig) -> Annotations:
    """classInd.txt (`1 ApplyEyeMakeup`), trainlist0N.txt (`Class/v_..avi 1`), testlist0N.txt.

    Labels follow classInd's numbering (minus one), not alphabetical order.
    """
    root, folder = _root(cfg), _annotation_dir(cfg)
    index_file = folder / "classInd.txt"
    classes: list[str] = []
    for number, line in _lines(index_file):
        parts = line.split()
        if len(parts) != 2:
            raise DataError(f"{index_file}:{number}: expected 'INDEX CLASS', got {line!r}")
        index = _int(parts[0], index_file, number, "class index")
        if index != len(classes) + 1:
            expected = len(classes) + 1
            raise DataError(f"{index_file}:{number}: class index {index}, expected {expected}")
        classes.append(parts[1])
    lookup = {name: i for i, name in enumerate(classes)}
    entries: dict[str, list] = {}
    for split in SPLITS:
        path = folder / f"{split}list{cfg.split:02d}.txt"
        rows = []
        for number, line in _lines(path):
            parts = line.split()
            rel = parts[0]
            name = rel.split("/")[0]
            if name not in lookup:
                raise DataError(f"{path}:{number}: class {name!r} is not in {index_file.name}")
            label = lookup[name]
            if len(parts) > 1:
                given = _int(parts[1], path, number, "label")
                if not 1 <= given <= len(classes):
                    raise DataError(
                        f"{path}:{number}: label {given} out of range 1..{len(classes)}"
                    )
                if given - 1 != label:
                    raise DataError(
                        f"{path}:{number}: label {given} is {classes[given - 1]!r},"
                        f" but the path's class is {name!r}"
                    )
            rows.append((rel, label, {}))
        entries[split] = rows
    return _build(cfg, root, classes, entries)


HMDB_SPLIT = re.compile(r"^(?P<cls>.+)_test_split(?P<n>\d)\.txt$")


@register_dataset("hmdb51", open=open_video, decoder=video_decoder)
def read_hmdb51(cfg: DataConfig) -> Annotations:
    """`<class>_test_split<N>.txt`, lines `<video>.avi <0|1|2>` (1 train, 2 test, 0 unused)."""
    root, folder = _root(cfg), _annotation_dir(cfg)
    files = {}
    for path in folder.iterdir():
        match = HMDB_SPLIT.match(path.name)
        if match and int(match["n"]) == cfg.split:
            files[match["cls"]] = path
    if not files:
        raise DataError(f"{folder}/*_test_split{cfg.split}.txt: no split files")
    classes = sorted(files)
    entries: dict[str, list] = {"train": [], "test": []}
    for label, name in enumerate(classes):
        path = files[name]
        for number, line in _lines(path):
            parts = line.split()
            if len(parts) != 2:
                raise DataError(f"{path}:{number}: expected 'VIDEO 0|1|2', got {line!r}")
            use = _int(parts[1], path, number, "split id")
            if use not in (0, 1, 2):
                raise DataError(f"{path}:{number}: split id {use} out of range 0..2")
            if use:
                entries["train" if use == 1 else "test"].append((f"{name}/{parts[0]}", label, {}))
    return _build(cfg, root, classes, entries)


KINETICS_SPLITS = {"train": "train", "validate": "test", "val": "test"}


def _video_index(root: Path) -> dict[str, str]:
    """File stem -> path relative to root, for every video anywhere under root."""
    index = {}
    for folder, _, names in os.walk(root):
        for name in names:
            stem, ext = os.path.splitext(name)
            if ext.lower() in VIDEO_EXTENSIONS:
                index.setdefault(stem, os.path.relpath(os.path.join(folder, name), root))
    return index


@register_dataset("kinetics", open=open_video, decoder=video_decoder)
def read_kinetics(cfg: DataConfig) -> Annotations:
    """The official CSV(s) `label,youtube_id,time_start,time_end,split`; `validate` is test.

    `annotations` is one CSV or a folder of them (train.csv, validate.csv). Files are
    `<youtube_id>_<start:06d>_<end:06d>.<ext>` anywhere under root (per split and label
    folders, or flat). Classes are the sorted labels; rows of the unlabelled `test` split
    are ignored.
    """
    root = _root(cfg)
    source = Path(cfg.annotations_path())
    if source.is_dir():
        csvs = sorted(source.glob("*.csv"))
    elif source.is_file():
        csvs = [source]
    else:
        raise DataError(f"annotations {str(source)!r}: no such file or folder")
    if not csvs:
        raise DataError(f"{source}: no .csv annotation files")
    rows = []
    for path in csvs:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            needed = {"label", "youtube_id", "time_start", "time_end", "split"}
            if not needed <= set(reader.fieldnames or ()):
                raise DataError(
                    f"{path}:1: header must have {', '.join(sorted(needed))};"
                    f" got {', '.join(reader.fieldnames or ())}"
                )
            for number, row in enumerate(reader, 2):
                split = KINETICS_SPLITS.get(row["split"].strip())
                if split is None:
                    continue
                try:
                    start, end = int(float(row["time_start"])), int(float(row["time_end"]))
                except ValueError:
                    raise DataError(f"{path}:{number}: time_start/time_end not numbers") from None
                stem = f"{row['youtube_id'].strip()}_{start:06d}_{end:06d}"
                rows.append((split, row["label"].strip(), stem))
    classes = sorted({label for _, label, _ in rows})
    lookup = {name: i for i, name in enumerate(classes)}
    index = _video_index(root)
    entries: dict[str, list] = {"train": [], "test": []}
    for split, label, stem in rows:
        entries[split].append((index.get(stem, f"{stem}.mp4"), lookup[label], {}))
    return _build(cfg, root, classes, entries)


def _split_file(folder: Path, split: str, n: int) -> Path:
    """train.txt/.csv, test (or val).txt/.csv, or MMAction2's `*_{split}_split_{n}_*.txt`."""
    names = ("train",) if split == "train" else ("test", "val")
    for name in names:
        for candidate in (folder / f"{name}.txt", folder / f"{name}.csv"):
            if candidate.is_file():
                return candidate
        found = sorted(folder.glob(f"*_{name}_split_{n}_*.txt"))
        if found:
            return found[0]
    raise DataError(f"{folder / (names[0] + '.txt')}: no such split file")


def _classes_file(folder: Path, labels: set[int]) -> list[str]:
    """Names from `classes.txt` (one per line, label order) when present, else the numbers."""
    path = folder / "classes.txt"
    if path.is_file():
        return [line for _, line in _lines(path)]
    return [str(i) for i in range(max(labels) + 1)] if labels else []


def _labelled_lists(cfg: DataConfig, columns: int) -> tuple[list[str], dict[str, list]]:
    """Rows `path [num_frames] label` (space or comma separated) of both splits, checked."""
    folder = _annotation_dir(cfg)
    raw: dict[str, list] = {}
    for split in SPLITS:
        path = _split_file(folder, split, cfg.split)
        rows = []
        for number, line in _lines(path):
            parts = line.replace(",", " ").split()
            if len(parts) != columns:
                want = "PATH LABEL" if columns == 2 else "FRAME_DIR NUM_FRAMES LABEL"
                raise DataError(f"{path}:{number}: expected {want!r}, got {line!r}")
            numbers = [_int(p, path, number, "number") for p in parts[1:]]
            rows.append((path, number, parts[0], numbers))
        raw[split] = rows
    classes = _classes_file(folder, {r[3][-1] for rows in raw.values() for r in rows})
    entries = {}
    for split, rows in raw.items():
        entries[split] = []
        for path, number, rel, numbers in rows:
            if not 0 <= numbers[-1] < len(classes):
                raise DataError(
                    f"{path}:{number}: label {numbers[-1]} out of range 0..{len(classes) - 1}"
                )
            fields = {"num_frames": numbers[0]} if columns == 3 else {}
            entries[split].append((rel, numbers[-1], fields))
    return classes, entries


@register_dataset("list", open=open_video, decoder=video_decoder)
def read_list(cfg: DataConfig) -> Annotations:
    """PySlowFast's lists: `path label` per line, paths relative to root, labels from 0."""
    root = _root(cfg)
    classes, entries = _labelled_lists(cfg, columns=2)
    return _build(cfg, root, classes, entries)


@register_dataset("frames", open=open_frames, decoder=jpeg_decoder)
def read_frames(cfg: DataConfig) -> Annotations:
    """MMAction2's rawframe lists: `frame_dir num_frames label`, frames `img_00001.jpg`..."""
    root = _root(cfg)
    classes, entries = _labelled_lists(cfg, columns=3)
    return _build(cfg, root, classes, entries)
