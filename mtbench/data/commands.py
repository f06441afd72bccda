"""`mtbench data inspect` and `mtbench data preview`; `register(app)` adds the `data` group.

Bad annotations raise `DataError`, turned here into `UsageError`: one line, exit code 2.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from mtbench.errors import UsageError

data_app = typer.Typer(no_args_is_help=True, help="Inspect and preview video datasets.")

DatasetOpt = Annotated[
    str,
    typer.Option(
        "--dataset", help="ucf101 | hmdb51 | kinetics | frames | list | synthetic | multiduration"
    ),
]
GENERATED = ("multiduration", "synthetic")
RootOpt = Annotated[str, typer.Option("--root", help="Folder that holds the videos.")]
AnnotationsOpt = Annotated[
    str, typer.Option("--annotations", help="Split files (file or folder); default: --root.")
]
SplitOpt = Annotated[int, typer.Option("--split", help="Official split number (1..3).")]
DecoderOpt = Annotated[str, typer.Option("--decoder", help="Video reader: pyav | torchcodec.")]


def _load(dataset: str, root: str, annotations: str, split: int, **knobs: Any):
    from mtbench.data import DataConfig, DataError, read_annotations

    try:
        from mtbench.data.decode import check_decoder

        cfg = DataConfig(dataset, root=root, annotations=annotations, split=split, **knobs)
        check_decoder(cfg)
        return cfg, read_annotations(cfg)
    except DataError as exc:
        raise UsageError(str(exc)) from exc


def _check(cfg, annotations) -> tuple[dict[str, str], dict[str, int]]:
    """Decode every listed video that exists, with a progress bar: the reason each
    unreadable one failed, and each readable one's frame count (FFmpeg's decoded count)."""
    from mtbench.data.decode import decode_all
    from mtbench.data.kinds import DATASETS, Unreadable

    kind = DATASETS[cfg.dataset]
    work = [(split, s) for split, samples in annotations.splits.items() for s in samples]
    bad, frames = {}, {}
    columns = (
        TextColumn("decoding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("", total=len(work))
        for split, sample in work:
            progress.update(task, description=sample.key)
            try:
                source = kind.open(cfg, sample, split)
                decode_all(source)
                frames[sample.key] = source.num_frames
                getattr(source, "close", lambda: None)()
            except Unreadable as exc:
                bad[sample.key] = str(exc)
            progress.advance(task)
    return bad, frames


def summary(cfg, annotations, checked: tuple | None) -> dict[str, Any]:
    """The `--json` object: classes, per split videos / missing / per-class counts; with
    `--check` the unreadable videos (and why) and every readable video's frame count."""
    from mtbench.data import data_fingerprint

    splits = {}
    for split, samples in annotations.splits.items():
        counts = Counter(s.label for s in samples)
        splits[split] = {
            "videos": len(samples),
            "missing": len(annotations.missing[split]),
            "per_class": {name: counts[i] for i, name in enumerate(annotations.classes)},
            "missing_files": annotations.missing[split],
            "fingerprint": data_fingerprint(cfg, annotations, split),
        }
    out: dict[str, Any] = {
        "dataset": annotations.dataset,
        "classes": annotations.classes,
        "splits": splits,
    }
    if checked is not None:
        reasons, frames = checked
        out["unreadable"] = list(reasons)
        out["unreadable_reasons"] = reasons
        out["frames"] = frames
    return out


def _print_summary(info: dict[str, Any]) -> None:
    console = Console()
    table = Table(title=f"{info['dataset']}: {len(info['classes'])} classes (label order)")
    table.add_column("label", justify="right")
    table.add_column("class")
    for split in info["splits"]:
        table.add_column(split, justify="right")
    for label, name in enumerate(info["classes"]):
        counts = [str(s["per_class"][name]) for s in info["splits"].values()]
        table.add_row(str(label), name, *counts)
    table.add_row("", "videos found", *(str(s["videos"]) for s in info["splits"].values()))
    table.add_row("", "listed, missing", *(str(s["missing"]) for s in info["splits"].values()))
    console.print(table)
    for split, s in info["splits"].items():
        for path in s["missing_files"]:
            console.print(f"missing ({split}): {path}", highlight=False)
    if "unreadable" in info:
        for path, count in info["frames"].items():
            console.print(f"frames {count:6d}  {path}", highlight=False)
        for path, reason in info["unreadable_reasons"].items():
            console.print(f"unreadable: {path} ({reason})", highlight=False)
        console.print(f"decoded every video: {len(info['unreadable'])} unreadable")


@data_app.command()
def inspect(
    dataset: DatasetOpt,
    root: RootOpt = "",
    annotations: AnnotationsOpt = "",
    split: SplitOpt = 1,
    check: Annotated[
        bool, typer.Option(help="Also decode every listed video: frame counts, unreadable ones.")
    ] = False,
    decoder: DecoderOpt = "pyav",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Classes in label order; per split the videos found, per-class counts, missing files."""
    cfg, found = _load(dataset, root, annotations, split, decoder=decoder)
    info = summary(cfg, found, _check(cfg, found) if check else None)
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        _print_summary(info)


@data_app.command()
def preview(
    dataset: DatasetOpt,
    out: Annotated[Path, typer.Option("--out", help="Contact sheet image (png, jpg, pdf).")],
    root: RootOpt = "",
    annotations: AnnotationsOpt = "",
    split: SplitOpt = 1,
    clips: Annotated[int, typer.Option(help="Training clips to show (rows).")] = 4,
    frames: Annotated[int, typer.Option(help="T: frames per clip.")] = 16,
    interval: Annotated[int, typer.Option(help="Temporal stride.")] = 2,
    crop: Annotated[int, typer.Option(help="Crop size.")] = 112,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    per_class: Annotated[
        bool, typer.Option(help="One clip of each class (rows = classes) instead of --clips.")
    ] = False,
) -> None:
    """A contact sheet of training clips after the transforms: what the model sees."""
    from mtbench.data import DataError, build_dataset
    from mtbench.data.preview import contact_sheet

    knobs = {"frames": frames, "interval": interval, "crop": crop}
    # The paper's 128..160 short side for a 112 crop, scaled to other crops.
    knobs["resize"] = (crop * 8 // 7, crop * 10 // 7)
    cfg, found = _load(dataset, root, annotations, split, **knobs)
    try:
        data = build_dataset(cfg, "train", train=True, seed=seed, annotations=found)
    except DataError as exc:
        raise UsageError(str(exc)) from exc
    if per_class:
        firsts = {s.label: i for i, s in reversed(list(enumerate(data.samples)))}
        picks = [firsts[label] for label in sorted(firsts)]
    else:
        picks = [
            round(i * (len(data) - 1) / max(clips - 1, 1)) for i in range(min(clips, len(data)))
        ]
    items = [data[i] for i in picks]
    contact_sheet(items, data.classes, cfg, out)
    typer.echo(f"wrote {out}")
    for path in data.skipped:
        typer.echo(f"unreadable, replaced: {path}", err=True)


@data_app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write (videos/, annotations/).")],
    kind: Annotated[str, typer.Option("--kind", help=" | ".join(GENERATED))] = "multiduration",
    videos_per_class: Annotated[int, typer.Option(help="Training videos per class.")] = 16,
    test_videos_per_class: Annotated[int, typer.Option(help="Test videos per class.")] = 4,
    num_classes: Annotated[int, typer.Option(help="Classes (multiduration: 2..10).")] = 10,
    frames: Annotated[int, typer.Option(help="Frames per video (multiduration: the clip).")] = 16,
    height: Annotated[int, typer.Option(help="Frame height (even).")] = 64,
    width: Annotated[int, typer.Option(help="Frame width (even).")] = 80,
    min_duration: Annotated[int, typer.Option(help="Shortest action, frames.")] = 4,
    max_duration: Annotated[int, typer.Option(help="Longest action, frames.")] = 16,
    distractors: Annotated[int, typer.Option(help="Drifting distractor objects.")] = 2,
    noise: Annotated[float, typer.Option(help="Pixel noise std, 0..255 levels.")] = 8.0,
    fps: Annotated[int, typer.Option(help="Frame rate written to the mp4 files.")] = 25,
) -> None:
    """Write a generated dataset as mp4 files in UCF-101's layout, with official split files."""
    from mtbench.data import DataConfig, DataError
    from mtbench.data.export import write_ucf101

    if kind not in GENERATED:
        raise UsageError(f"--kind {kind!r}: choose from {', '.join(GENERATED)}")
    try:
        cfg = DataConfig(
            kind,
            frames=frames,
            interval=1,
            num_classes=num_classes,
            videos_per_class=videos_per_class,
            test_videos_per_class=test_videos_per_class,
            source_frames=frames,
            source_size=(height, width),
            min_duration=min_duration,
            max_duration=max_duration,
            distractors=distractors,
            noise=noise,
        )
        counts = write_ucf101(cfg, out, fps)
    except DataError as exc:
        raise UsageError(str(exc)) from exc
    typer.echo(
        f"wrote {counts['train']} training and {counts['test']} test videos to {out / 'videos'};"
        f" splits in {out / 'annotations'}, durations in {out / 'durations.csv'}"
    )


@data_app.command("bench")
def bench_command(
    root: Annotated[Path, typer.Argument(help="Folder of videos (searched recursively).")],
    clips: Annotated[int, typer.Option(help="Clips per reader.")] = 120,
    frames: Annotated[int, typer.Option(help="T: frames per clip.")] = 16,
    interval: Annotated[int, typer.Option(help="Temporal stride.")] = 1,
    threads: Annotated[int, typer.Option(help="Decoder threads per video.")] = 1,
    seed: Annotated[int, typer.Option(help="Which videos and starts.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Clips per CPU-second of each installed video reader on your videos: the same random
    clips, readers interleaved clip by clip, CPU time per clip (other load does not skew the
    ratios)."""
    from mtbench.data.bench import available_readers, bench, video_files
    from mtbench.data.decode import VIDEO_EXTENSIONS
    from mtbench.data.kinds import Unreadable

    paths = video_files(root)
    if not paths:
        raise UsageError(f"{root}: no video files ({', '.join(VIDEO_EXTENSIONS)}) under it")
    if min(clips, frames, interval, threads) < 1:
        raise UsageError("--clips, --frames, --interval and --threads must be >= 1")
    try:
        rows = bench(
            paths,
            available_readers(),
            clips=clips,
            frames=frames,
            interval=interval,
            threads=threads,
            seed=seed,
        )
    except Unreadable as exc:
        raise UsageError(f"{exc} (mtbench data inspect --check lists unreadable videos)") from exc
    machine = f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    if as_json:
        print(
            json.dumps(
                {"videos": len(paths), "threads": threads, "machine": machine, "readers": rows},
                indent=2,
            )
        )
        return
    title = f"{len(paths)} videos, {clips} clips of {frames} frames, {threads} thread(s)"
    _print_bench(rows, title)
    print(f"{machine}; 'same': clips whose frames equal mtbench's reader's")


def _print_bench(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ("reader", "CPU ms/clip", "clips/CPU-s", "vs mtbench", "wall ms/clip", "same"):
        table.add_column(column, justify="left" if column == "reader" else "right", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["reader"]),
            f"{row['cpu_ms_per_clip']:.1f}",
            f"{row['clips_per_cpu_s']:.1f}",
            f"{row['vs_mtbench']:.2f}x",
            f"{row['wall_ms_per_clip']:.1f}",
            f"{row['same_frames_as_mtbench']}/{row['clips']}",
        )
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add the `data` command group to the mtbench Typer app."""
    app.add_typer(data_app, name="data")
