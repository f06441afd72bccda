"""Frame sources: video files through PyAV (decoding only the sampled window) and JPEG folders.

Frame i of a video is the i-th frame FFmpeg's decoder outputs (what `ffmpeg -i f -fps_mode
passthrough -f rawvideo -` writes), whatever the container says. Opening a file demuxes its
packets once, without decoding (a few ms, about a packet per frame): the frame count is the
packets that hold a frame (not empty, corrupt, or discarded by an edit list), and frame i's
presentation timestamp is the i-th smallest packet timestamp. `read(indices)` seeks to the
keyframe before its first frame and decodes forward to the last, matching each decoded frame
to its index by timestamp, so variable frame rates, edit lists and non-zero starts are exact.

AVI stores decode order only: with B-frames the first frame's timestamp is 1 while the
stream starts at 0 (counting from the start read frame i-1), which the rank rule absorbs.
The one stream whose timestamps cannot be trusted at all is MPEG-4 with packed B-frames
(Xvid, DivX 5: the decoder gives frames out-of-order timestamps). There a frame's index is
its position in the decoder's output from the start of the file (Xvid's default keyframe
interval is 300 frames, so decoding from the start costs little more than seeking).
Decode errors skip the packet and go on, as FFmpeg's command line does; an index past the
last decodable frame repeats the last decoded frame; no frame at all is `Unreadable`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import PIL
from av.video.reformatter import VideoReformatter
from PIL import Image

from mtbench.data.config import DataConfig, DataError
from mtbench.data.kinds import Sample, Unreadable

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg")
DECODERS = ("pyav", "torchcodec")
DECODE_DEVICES = ("cpu", "cuda")
# One YUV -> RGB converter per process: PyAV's `frame.to_ndarray` sets up a new swscale
# context for every frame, which costs as much as the conversion (same pixels either way).
# One thread (swscale's default starts slice threads: more CPU, no faster here), keyed by
# process id and never freed: a DataLoader worker forked from a process that converted
# frames inherits a context whose slice threads it does not have, and would wait for them.
_CONVERTERS: dict[int, VideoReformatter] = {}


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    converter = _CONVERTERS.get(os.getpid())
    if converter is None:
        converter = _CONVERTERS[os.getpid()] = VideoReformatter()
    return converter.reformat(frame, format="rgb24", threads=1).to_ndarray()


def decode_threads(cfg: DataConfig) -> int:
    """Decoder threads per video: `data.decode_threads`, or (0, the default) the cores this
    process may use shared out over the DataLoader workers, so workers x threads <= cores;
    FFmpeg's own default starts a thread per core in every worker (N-fold oversubscription)."""
    if cfg.decode_threads:
        return cfg.decode_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // max(cfg.workers, 1))


def check_decoder(cfg: DataConfig) -> None:
    """Raise DataError when the decoder options cannot work on this machine."""
    if cfg.decoder not in DECODERS:
        raise DataError(f"data.decoder {cfg.decoder!r}: choose from {', '.join(DECODERS)}")
    if cfg.decode_device not in DECODE_DEVICES:
        raise DataError(f"data.decode_device {cfg.decode_device!r}: choose cpu or cuda")
    if cfg.decode_device == "cuda":
        import torch

        if cfg.decoder != "torchcodec":
            raise DataError('data.decode_device "cuda": only with data.decoder = "torchcodec"')
        if not torch.cuda.is_available():
            raise DataError('data.decode_device "cuda": this machine has no CUDA device')
        if cfg.workers:
            raise DataError(
                'data.decode_device "cuda": set data.workers = 0 (CUDA in forked'
                " DataLoader workers fails)"
            )
    if cfg.decoder == "torchcodec":
        try:
            import torchcodec  # noqa: F401
        except (ImportError, OSError, RuntimeError) as exc:
            raise DataError(
                f'data.decoder "torchcodec": {exc} (pip install "mtbench[torchcodec]" and'
                " install FFmpeg's libraries, e.g. apt-get install ffmpeg)"
            ) from exc


def video_decoder(cfg: DataConfig) -> str:
    """The decoder's name and version, for the record and the data fingerprint."""
    if cfg.decoder == "torchcodec":
        import torchcodec

        suffix = "-cuda" if cfg.decode_device == "cuda" else ""
        return f"torchcodec-{torchcodec.__version__}{suffix}"
    return f"pyav-{av.__version__}"


def jpeg_decoder(cfg: DataConfig) -> str:
    return f"pillow-{PIL.__version__}"


@dataclass(frozen=True)
class FrameTable:
    """Where a file's frames are, from one demuxing pass (no decoding)."""

    count: int  # frames the decoder outputs
    pts: np.ndarray  # frame i's presentation timestamp, ascending (empty when positional)
    start: int  # earliest packet timestamp: where decoding from the start seeks to
    lead: int  # most a packet's pts runs ahead of its dts: seek this much before a frame


# What FFmpeg's MPEG-4 decoder reads as a packed B-frame stream: DivX/Xvid user data
# "DivX<version>b<build>p" (or "Build"), as in mpeg4videodec.c's decode_user_data.
PACKED = re.compile(rb"DivX\d+(?:b|Build)\d+p")


def scan(container: av.container.InputContainer, stream: av.VideoStream) -> FrameTable:
    """Demux every packet once: the frame count and each frame's timestamp."""
    extradata = stream.codec_context.extradata or b""
    positional = bool(PACKED.search(extradata))
    pts: list[int] = []
    count, start, lead = 0, None, 0
    for packet in container.demux(stream):
        if not packet.size or packet.is_corrupt or packet.is_discard:
            continue
        if not count and stream.codec_context.name == "mpeg4":
            positional = positional or bool(PACKED.search(bytes(packet)))
        count += 1
        stamp = packet.dts if packet.dts is not None else packet.pts
        if stamp is not None:
            start = stamp if start is None else min(start, stamp)
        if packet.pts is None:
            positional = True
        elif packet.dts is not None:
            lead = max(lead, packet.pts - packet.dts)
        if not positional:
            pts.append(packet.pts)
    table = np.array([] if positional else sorted(pts), dtype=np.int64)
    return FrameTable(count, table, start or 0, lead)


class VideoSource:
    """One video file through PyAV; `start`/`end` (seconds from its first frame) restrict it
    to a segment: the frames shown from `start` until `end`, each to the nearest frame."""

    def __init__(
        self, path: Path, start: float | None = None, end: float | None = None, threads: int = 0
    ) -> None:
        self.path = path
        try:
            self.container = av.open(str(path))
            self.stream = self.container.streams.video[0]
            self.table = scan(self.container, self.stream)
        except (av.error.FFmpegError, OSError, IndexError, ValueError) as exc:
            raise Unreadable(f"{path}: {exc}") from exc
        self.stream.thread_type = "AUTO"
        self.stream.thread_count = threads  # 0: FFmpeg's default, a thread per core
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(25)
        self.fps = float(rate)
        self.time_base = self.stream.time_base or Fraction(1, 1000)
        self.index = {int(p): i for i, p in enumerate(self.table.pts)}
        self.offset, stop = self._segment(start, end)
        self.num_frames = stop - self.offset
        if self.num_frames <= 0:
            self.close()
            raise Unreadable(f"{path}: no frames" + (" in the segment" if start or end else ""))

    def _segment(self, start: float | None, end: float | None) -> tuple[int, int]:
        """[first, stop) frame indices of the segment: frames whose time, to the nearest
        frame (half a frame period), is at or after `start` and before `end`."""
        if self.table.pts.size:
            times = (self.table.pts - self.table.pts[0]) * float(self.time_base)
        else:
            times = np.arange(self.table.count) / self.fps
        half = 0.5 / self.fps
        first = int(np.searchsorted(times, start - half)) if start else 0
        stop = int(np.searchsorted(times, end - half)) if end is not None else self.table.count
        return first, stop

    def _frames(self, skip_before: int | None):
        """Decoded frames from the current position. Frames shown before `skip_before` (a
        timestamp) that no other frame references are not decoded at all (FFmpeg's
        skip_frame=NONREF, packet by packet): on the way from the keyframe to the clip that
        skips most B-frames, and changes no other frame. A packet that fails to decode is
        skipped, as FFmpeg's command line does (a damaged or truncated file)."""
        context = self.stream.codec_context
        for packet in self.container.demux(self.stream):
            if skip_before is not None:
                early = packet.pts is not None and packet.pts < skip_before
                context.skip_frame = "NONREF" if early else "DEFAULT"
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                continue
            yield from frames

    def _decode(self, wanted: np.ndarray, from_start: bool) -> dict[int, np.ndarray]:
        """The wanted frames (file indices) found decoding from a seek."""
        positional = not self.table.pts.size
        if from_start or positional:
            target = self.table.start
        else:
            target = max(int(self.table.pts[wanted[0]]) - self.table.lead, self.table.start)
        self.container.seek(target, stream=self.stream, backward=True)
        want, last, got = set(wanted.tolist()), int(wanted[-1]), {}
        position = -1
        skip_before = None if positional else int(self.table.pts[wanted[0]])
        for frame in self._frames(skip_before):
            position += 1
            index = position if positional else self.index.get(frame.pts)
            if index is None:
                continue
            if index > last:
                break
            if index in want and index not in got:
                got[index] = to_rgb(frame)
        return got

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 (len(indices), H, W, 3); indices are 0-based within the segment, any order."""
        wanted = np.unique(indices) + self.offset
        try:
            got = self._decode(wanted, from_start=False)
            missed = not got or min(got) > wanted[0]
            if missed and self.table.pts.size:
                got = self._decode(wanted, from_start=True)  # the seek landed past the frame
        except (av.error.FFmpegError, OSError) as exc:
            raise Unreadable(f"{self.path}: {exc}") from exc
        if not got:
            raise Unreadable(f"{self.path}: no frame decoded in [{wanted[0]}, {wanted[-1]}]")
        return _fill(got, np.asarray(indices) + self.offset)

    def close(self) -> None:
        self.container.close()


def _fill(got: dict[int, np.ndarray], indices: np.ndarray) -> np.ndarray:
    """Frames for `indices`; an index not decoded takes the nearest earlier decoded frame."""
    keys = np.array(sorted(got))
    at = np.clip(np.searchsorted(keys, indices, side="right") - 1, 0, len(keys) - 1)
    return np.stack([got[int(keys[i])] for i in at])


class TorchcodecSource:
    """One video file through torchcodec (exact seek mode), on the CPU or the GPU (NVDEC).

    Frame i is torchcodec's i-th frame; a segment is cut at the average frame rate
    (`round(seconds x fps)`), which is exact only for constant-rate files."""

    def __init__(
        self,
        path: Path,
        start: float | None = None,
        end: float | None = None,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        from torchcodec.decoders import VideoDecoder

        self.path = path
        try:
            self.decoder = VideoDecoder(
                str(path), dimension_order="NHWC", num_ffmpeg_threads=threads, device=device
            )
            total = self.decoder.metadata.num_frames or 0
            fps = self.decoder.metadata.average_fps or 25.0
        except (RuntimeError, ValueError, OSError) as exc:
            raise Unreadable(f"{path}: {exc}") from exc
        self.offset = round(start * fps) if start else 0
        stop = min(total, round(end * fps)) if end is not None else total
        self.num_frames = stop - self.offset
        if self.num_frames <= 0:
            raise Unreadable(f"{path}: no frames")

    def read(self, indices: np.ndarray) -> np.ndarray:
        """uint8 (len(indices), H, W, 3); indices are 0-based within the segment, any order."""
        wanted = [int(i) + self.offset for i in indices]
        try:
            batch = self.decoder.get_frames_at(indices=wanted)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise Unreadable(f"{self.path}: {exc}") from exc
        return batch.data.cpu().numpy()

    def close(self) -> None:
        pass


def open_video(cfg: DataConfig, sample: Sample, split: str) -> VideoSource | TorchcodecSource:
    assert sample.path is not None
    threads = decode_threads(cfg)
    if cfg.decoder == "torchcodec":
        return TorchcodecSource(sample.path, sample.start, sample.end, threads, cfg.decode_device)
    return VideoSource(sample.path, sample.start, sample.end, threads)


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


def decode_all(source: VideoSource | TorchcodecSource | FrameFolderSource, chunk: int = 64) -> None:
    """Decode every frame, a chunk at a time (`mtbench data inspect --check`); raises Unreadable."""
    for first in range(0, source.num_frames, chunk):
        source.read(np.arange(first, min(first + chunk, source.num_frames)))


def decoder_fields(cfg: DataConfig) -> dict[str, str | int | None]:
    """The training record's decoder fields: name-version, and threads per video (None
    where no video is decoded: generated data, frame folders)."""
    from mtbench.data.kinds import DATASETS

    kind = DATASETS[cfg.dataset]
    threads = decode_threads(cfg) if kind.open is open_video else None
    return {"decoder": kind.decoder(cfg), "decode_threads": threads}
