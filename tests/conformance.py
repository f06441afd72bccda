"""The decoder conformance set: small files written by the system `ffmpeg` in the containers
datasets ship in, and FFmpeg's own decoding of each as the reference.

Written at test time (nothing binary in the repository); `FFMPEG` is None where the command
is absent, and the tests that need it skip with that reason. Frame i of a file is the i-th
frame `ffmpeg -i f -fps_mode passthrough -f rawvideo -pix_fmt rgb24 -` writes: every frame
the decoder outputs, in order, none duplicated or dropped to make a constant rate.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

FFMPEG = shutil.which("ffmpeg")
NO_FFMPEG = "the system ffmpeg is not installed (apt-get install ffmpeg)"
HEIGHT, WIDTH, FRAMES = 64, 96, 64
SOURCE = ["-f", "lavfi", "-i", f"testsrc2=size={WIDTH}x{HEIGHT}:rate=25"]
OUT = ["-frames:v", str(FRAMES), "-pix_fmt", "yuv420p"]
RAW = ["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
H264 = ["-c:v", "libx264", "-bf", "3", "-g", "12"]

# name -> ffmpeg output arguments (the input is SOURCE); what each file stands for:
ENCODED = {
    "mpeg4.avi": [*OUT, "-c:v", "mpeg4", "-bf", "0", "-g", "12"],  # UCF-101 style, no B
    "mpeg4_bframes.avi": [*OUT, "-c:v", "mpeg4", "-bf", "2", "-g", "12"],  # DivX, B-frames
    "xvid_packed.avi": [*OUT, "-c:v", "libxvid", "-bf", "2", "-g", "12"],  # packed B-frames
    "mjpeg.avi": ["-frames:v", str(FRAMES), "-pix_fmt", "yuvj420p", "-c:v", "mjpeg"],
    "h264_bframes.mp4": [*OUT, *H264],
    "h264_one_keyframe.mp4": [*OUT, "-c:v", "libx264", "-g", "1000", "-x264-params", "scenecut=0"],
    "vp9.webm": [*OUT, "-c:v", "libvpx-vp9", "-g", "12", "-deadline", "realtime", "-cpu-used", "8"],
    # frames 0..31 at 25/s, then 32..63 at 12.5/s: the index is not time x rate
    "vfr.mp4": [
        *OUT,
        "-vf",
        "setpts='if(lt(N,32),N,32+2*(N-32))/25/TB'",
        "-fps_mode",
        "vfr",
        *H264,
    ],
}


def ffmpeg(*args: str) -> bytes:
    assert FFMPEG, NO_FFMPEG
    command = [FFMPEG, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args]
    return subprocess.run(command, check=True, capture_output=True).stdout


def reference_frames(path: Path) -> np.ndarray:
    """Every frame FFmpeg decodes from `path`, in order, as uint8 (n, H, W, 3)."""
    raw = ffmpeg("-i", str(path), *RAW)
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)


def _edit_list(folder: Path) -> Path:
    """h264 with B-frames cut without re-encoding: an edit list and a start of 0.18 s."""
    source = folder / "h264_bframes.mp4"
    path = folder / "h264_edit_list.mp4"
    ffmpeg("-i", str(source), "-ss", "0.3", "-c", "copy", str(path))
    return path


def _over_reporting(folder: Path) -> Path:
    """The no-B-frame AVI with its headers claiming 96 frames instead of 64."""
    data = bytearray((folder / "mpeg4.avi").read_bytes())
    avih, strh = data.find(b"avih"), data.find(b"strh")
    struct.pack_into("<I", data, avih + 8 + 16, 96)  # dwTotalFrames
    struct.pack_into("<I", data, strh + 8 + 32, 96)  # dwLength
    path = folder / "over_reporting.avi"
    path.write_bytes(bytes(data))
    return path


def _truncated(folder: Path) -> Path:
    """A fast-start mp4 cut at 60 %: the index lists 64 frames, the data holds about 36."""
    whole = folder / "whole_faststart.mp4"
    ffmpeg(*SOURCE, *OUT, *H264, "-movflags", "+faststart", str(whole))
    data = whole.read_bytes()
    whole.unlink()
    path = folder / "truncated.mp4"
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def write_conformance(folder: Path) -> list[Path]:
    """Write every conformance file into `folder`; the paths, in a stable order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, args in ENCODED.items():
        ffmpeg(*SOURCE, *args, str(folder / name))
        paths.append(folder / name)
    return [*paths, _edit_list(folder), _over_reporting(folder), _truncated(folder)]
