"""Frame sources: video files through PyAV (decoding only the sampled window) and JPEG folders.

PyAV bundles FFmpeg, so `pip install av` alone reads avi (Xvid, MJPEG) and mp4 (h264, mpeg4).
A source is opened per sample, reads the frame count from the container (decoding to count
only when the container does not say), and `read(indices)` seeks to the keyframe before the
first wanted frame and decodes forward until the last one. Frames past the real end (a count
that overstates a truncated file) repeat the last decoded frame; no frame at all is
`Unreadable`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import PIL
from PIL import Image

from mtbench.data.config import DataConfig
from mtbench.data.kinds import Sample, Unreadable

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")


def pyav_decoder(cfg: DataConfig) -> str:
    return f"pyav-{av.__version__}"


def jpeg_decoder(cfg: DataConfig) -> str:
    return f"pillow-{PIL.__version__}"


class VideoSource:
    """One video file; `start`/`end` (seconds) restrict it to a segment when given."""

    def __init__(self, path: Path, start: float | None = None, end: float | None = None) -> None:
        self.path = path
        try:
            self.container = av.open(str(path))
            self.stream = self.container.streams.video[0]
        except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
            raise Unreadable(f"{path}: {exc}") from exc
        self.stream.thread_type = "AUTO"
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.fps = float(rate)
        self.time_base = self.stream.time_base or Fraction(1, 1000)
        self.first_pts = self.stream.start_time or 0
        self.offset = round((start or 0.0) * self.fps)
        total = self._container_frames()
        if end is not None:
            total = min(total, round(end * self.fps)) if total else round(end * self.fps)
        self.num_frames = total - self.offset if total else self._count_by_decoding()
        if self.num_frames <= 0:
            self.close()
            raise Unreadable(f"{path}: no frames")

    def _container_frames(self) -> int:
        if self.stream.frames:
            return int(self.stream.frames)
        if self.stream.duration:
            return round(float(self.stream.duration * self.time_base) * self.fps)
        if self.container.duration:
            return round(self.container.duration / av.time_base * self.fps)
        return 0

    def _count_by_decoding(self) -> int:
        count = 0
        try:
            self.container.seek(0, stream=self.stream)
            for _ in self.container.decode(self.stream):
                count += 1
        except (av.error.FFmpegError, OSError) as exc:
            if not count:
                raise Unreadable(f"{self.path}: {exc}") from exc
        return count - self.offset

    def _frame_index(self, frame: av.VideoFrame) -> int:
        return round(float((frame.pts - self.first_pts) * self.time_base) * self.fps) - self.offset

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 (len(indices), H, W, 3); indices are 0-based within the segment, any order."""
        wanted = np.unique(indices)
        first, last = int(wanted[0]), int(wanted[-1])
        target = self.first_pts + round((first + self.offset) / self.fps / self.time_base)
        got: dict[int, np.ndarray] = {}
        try:
            self.container.seek(max(target, 0), stream=self.stream, backward=True)
            position = None  # decoding order, for frames without a timestamp
            for frame in self.container.decode(self.stream):
                if frame.pts is None:
                    position = first if position is None else position + 1
                index = position if frame.pts is None else self._frame_index(frame)
                if index > last:
                    break
                if index in wanted and index not in got:
                    got[index] = frame.to_ndarray(format="rgb24")
        except (av.error.FFmpegError, OSError) as exc:
            if not got:
                raise Unreadable(f"{self.path}: {exc}") from exc
        if not got:
            raise Unreadable(f"{self.path}: no frame decoded in [{first}, {last}]")
        return _fill(got, indices)

    def close(self) -> None:
        self.container.close()


def _fill(got: dict[int, np.ndarray], indices: np.ndarray) -> np.ndarray:
    """Frames for `indices`; an index not decoded takes the nearest earlier decoded frame."""
    keys = np.array(sorted(got))
    at = np.clip(np.searchsorted(keys, indices, side="right") - 1, 0, len(keys) - 1)
    return np.stack([got[int(keys[i])] for i in at])


def open_video(cfg: DataConfig, sample: Sample, split: str) -> VideoSource:
    assert sample.path is not None
    return VideoSource(sample.path, sample.start, sample.end)


class FrameFolderSource:
    """MMAction2's rawframes: `DIR/img_00001.jpg` ... (1-based), count from the list file."""

    def __init__(self, folder: Path, num_frames: int, template: str = "img_{:05d}.jpg") -> None:
        self.folder = folder
        self.template = template
        self.num_frames = num_frames
        if num_frames <= 0:
            raise Unreadable(f"{folder}: no frames")

    def read(self, indices: np.ndarray) -> np.ndarray:
        frames = {}
        for i in np.unique(indices):
            path = self.folder / self.template.format(int(i) + 1)
            try:
                with Image.open(path) as image:
                    frames[int(i)] = np.asarray(image.convert("RGB"))
            except OSError as exc:
                raise Unreadable(f"{path}: {exc}") from exc
        return np.stack([frames[int(i)] for i in indices])

    def close(self) -> None:
        pass


def open_frames(cfg: DataConfig, sample: Sample, split: str) -> FrameFolderSource:
    assert sample.path is not None
    return FrameFolderSource(sample.path, sample.num_frames)


def decode_all(source: VideoSource | FrameFolderSource, chunk: int = 64) -> None:
    """Decode every frame, a chunk at a time (`mtbench data inspect --check`); raises Unreadable."""
    for first in range(0, source.num_frames, chunk):
        source.read(np.arange(first, min(first + chunk, source.num_frames)))
