"""Tiny videos for the data tests, written with PyAV, in every layout's official format.

Frame i of every video is a flat grey of `level(i)`, so a test can tell from the decoded
pixels which frame it got (lossy codecs keep a flat frame's level within a few units).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image

FRAMES, HEIGHT, WIDTH = 20, 32, 40
CODECS = {".avi": "mpeg4", ".mp4": "libx264", ".mkv": "mjpeg"}


def level(i: int) -> int:
    return 20 + 10 * i


def frames(n: int = FRAMES) -> np.ndarray:
    values = np.array([level(i) for i in range(n)], dtype=np.uint8)
    return np.broadcast_to(values[:, None, None, None], (n, HEIGHT, WIDTH, 3)).copy()


def write_video(path: Path, n: int = FRAMES, codec: str | None = None, fps: int = 25) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    codec = codec or CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if codec == "libx264":
            stream.options = {"g": "8"}  # keyframes every 8 frames, so seeking is exercised
        for image in frames(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frame_folder(folder: Path, n: int = FRAMES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(frames(n)):
        Image.fromarray(image).save(folder / f"img_{i + 1:05d}.jpg", quality=95)
    return folder


def write_lines(path: Path, lines: list[str], newline: str = "\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + newline for line in lines).encode())
    return path


# Class order deliberately not alphabetical in classInd, to test label = index - 1.
UCF_CLASSES = ["Zumba", "ApplyLipstick", "Mixing"]
HMDB_CLASSES = ["wave", "climb", "run"]  # label order: sorted by name
KINETICS_CLASSES = ["playing guitar", "abseiling", "zumba"]  # label order: sorted


def write_ucf101(base: Path) -> tuple[Path, Path]:
    root, ann = base / "UCF-101", base / "ucfTrainTestlist"
    train, test = [], []
    for i, name in enumerate(UCF_CLASSES):
        for group, lines in (("g01", train), ("g02", test)):
            rel = f"{name}/v_{name}_{group}_c01.avi"
            write_video(root / rel)
            lines.append(f"{rel} {i + 1}" if lines is train else rel)
    test.append("Mixing/v_Mixing_g03_c01.avi")  # listed, not on disk
    write_lines(ann / "classInd.txt", [f"{i + 1} {n}" for i, n in enumerate(UCF_CLASSES)], "\r\n")
    write_lines(ann / "trainlist01.txt", train, "\r\n")
    write_lines(ann / "testlist01.txt", test, "\r\n")
    return root, ann


def write_hmdb51(base: Path) -> tuple[Path, Path]:
    root, ann = base / "hmdb51", base / "testTrainMulti_7030_splits"
    for name in HMDB_CLASSES:
        lines = []
        for video, use in ((f"{name}_a.avi", 1), (f"{name}_b.avi", 2), (f"{name}_c.avi", 0)):
            if use:
                write_video(root / name / video)
            lines.append(f"{video} {use} ")  # the official files end lines with a space
        write_lines(ann / f"{name}_test_split1.txt", lines)
    return root, ann


def kinetics_name(youtube_id: str, start: int) -> str:
    return f"{youtube_id}_{start:06d}_{start + 10:06d}.mp4"


def write_kinetics(base: Path) -> tuple[Path, Path]:
    root, csv = base / "kinetics", base / "kinetics400.csv"
    rows = ["label,youtube_id,time_start,time_end,split"]
    for i, label in enumerate(KINETICS_CLASSES):
        for split, start in (("train", 5), ("validate", 30)):
            youtube_id = f"vid{i}{split[0]}"
            rows.append(f'"{label}",{youtube_id},{start},{start + 10},{split}')
            # train files in per-split, per-label folders; validate files flat
            folder = root / "train" / label if split == "train" else root
            write_video(folder / kinetics_name(youtube_id, start))
    rows.append("abseiling,unlabelledtest,0,10,test")
    write_lines(csv, rows)
    return root, csv


def write_frames_layout(base: Path) -> tuple[Path, Path]:
    root, ann = base / "rawframes", base / "rawframes_lists"
    train, test = [], []
    for label in range(3):
        for lines, tag in ((train, "a"), (test, "b")):
            write_frame_folder(root / f"video{label}{tag}")
            lines.append(f"video{label}{tag} {FRAMES} {label}")
    write_lines(ann / "train.txt", train)
    write_lines(ann / "test.txt", test)
    return root, ann


def write_list_layout(base: Path) -> tuple[Path, Path]:
    root, ann = base / "listed", base / "listed_lists"
    train, test = [], []
    for label in range(3):
        for lines, tag, ext in ((train, "a", ".mp4"), (test, "b", ".avi")):
            rel = f"clips/c{label}{tag}{ext}"
            write_video(root / rel)
            lines.append(f"{rel},{label}")
    write_lines(ann / "train.csv", train)
    write_lines(ann / "test.csv", test)
    return root, ann


WRITERS = {
    "ucf101": write_ucf101,
    "hmdb51": write_hmdb51,
    "kinetics": write_kinetics,
    "frames": write_frames_layout,
    "list": write_list_layout,
}


def write_all(base: Path) -> dict[str, tuple[Path, Path]]:
    """Every file layout under `base`: kind -> (root, annotations)."""
    return {kind: writer(base / kind) for kind, writer in WRITERS.items()}
