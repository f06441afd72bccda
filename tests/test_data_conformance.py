"""mtbench's video readers against FFmpeg itself, on files in every container datasets ship in.

Each file of `conformance.write_conformance` is decoded by the `ffmpeg` command line (the
reference) and through `VideoSource`; every frame index the samplers ask for must give
FFmpeg's frame at that position exactly (pixel difference 0), and the frame count must be
FFmpeg's decoded count.
"""

import json
import subprocess

import numpy as np
import pytest
from conformance import FFMPEG, NO_FFMPEG, reference_frames, write_conformance
from videos import write_lines

from mtbench.data.config import DataConfig, DataError
from mtbench.data.decode import VideoSource, check_decoder, decode_threads, open_video
from mtbench.data.kinds import Sample, Unreadable
from mtbench.data.sampling import eval_indices, train_indices

pytestmark = pytest.mark.skipif(FFMPEG is None, reason=NO_FFMPEG)
NAMES = [
    "mpeg4.avi",
    "mpeg4_bframes.avi",
    "xvid_packed.avi",
    "mjpeg.avi",
    "h264_bframes.mp4",
    "h264_one_keyframe.mp4",
    "vp9.webm",
    "vfr.mp4",
    "h264_edit_list.mp4",
    "over_reporting.avi",
    "truncated.mp4",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """name -> (path, FFmpeg's frames)."""
    paths = write_conformance(tmp_path_factory.mktemp("conformance"))
    assert sorted(p.name for p in paths) == sorted(NAMES)
    return {p.name: (p, reference_frames(p)) for p in paths}


def sampler_indices(n: int) -> list[np.ndarray]:
    """Every index alone, the whole file out of order with repeats, and the samplers' clips
    (training at several random starts, 3 evaluation clips, a clip that loops)."""
    rng = np.random.default_rng(0)
    picks = [np.array([i]) for i in range(n)]
    picks.append(np.concatenate([np.arange(n)[::-1], [0, n - 1, 0]]))
    picks += [train_indices(n, 16, 2, rng) for _ in range(8)]
    picks += eval_indices(n, 8, 4, 3)
    picks.append(train_indices(n, 16, 8, rng))  # span 121 > n: the clip wraps around
    return picks


@pytest.mark.parametrize("name", NAMES)
def test_every_index_is_ffmpegs_frame(files, name):
    path, reference = files[name]
    source = VideoSource(path, threads=1)
    assert source.num_frames == len(reference)
    for indices in sampler_indices(source.num_frames):
        got = source.read(indices)
        assert np.array_equal(got, reference[indices]), (name, indices)
    source.close()


def test_the_fixed_files_were_wrong_before(files):
    """What the rules fix, against FFmpeg: an AVI with B-frames starts at timestamp 1 (its
    stream starts at 0), a packed stream's timestamps are out of order, a variable-rate
    file's timestamps are not index / rate, and both broken files' headers over-count."""
    import av

    def first_timestamps(path, n):
        with av.open(str(path)) as container:
            return [f.pts for _, f in zip(range(n), container.decode(video=0), strict=False)]

    assert first_timestamps(files["mpeg4_bframes.avi"][0], 3) == [1, 2, 3]
    packed = first_timestamps(files["xvid_packed.avi"][0], 8)
    assert packed != sorted(packed)
    for name in ("over_reporting.avi", "truncated.mp4"):
        with av.open(str(files[name][0])) as container:
            assert container.streams.video[0].frames > len(files[name][1])


def ffprobe_times(path) -> np.ndarray:
    """Each decoded frame's time, from ffprobe: an independent reference for segments."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=best_effort_timestamp_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    times = np.array([float(line.strip(",")) for line in out.split()])
    return times - times[0]


@pytest.mark.parametrize("name", ["h264_bframes.mp4", "vfr.mp4", "h264_edit_list.mp4", "vp9.webm"])
@pytest.mark.parametrize(("start", "end"), [(0.4, 1.2), (1.3, 2.5), (0.0, None), (2.0, None)])
def test_segments_start_and_end_at_the_right_frame(files, name, start, end):
    path, reference = files[name]
    times = ffprobe_times(path)
    half = 0.5 / 25
    first = int(np.argmax(times >= start - half))
    stop = len(times) if end is None else int(np.sum(times < end - half))
    source = VideoSource(path, start, end, threads=1)
    assert source.num_frames == stop - first
    got = source.read(np.array([0, source.num_frames - 1]))
    assert np.array_equal(got, reference[[first, stop - 1]])


def test_an_unreadable_file_raises_unreadable_with_the_reason(tmp_path):
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(Unreadable, match="garbage.mp4"):
        VideoSource(garbage)


def test_inspect_check_lists_ffmpegs_frame_counts(files, tmp_path, cli_inproc):
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"RIFF" + bytes(200))
    rows = [f"{path},0" for path, _ in files.values()] + [f"{broken},0"]
    lists = tmp_path / "lists"
    write_lines(lists / "train.csv", rows)
    write_lines(lists / "test.csv", rows[:1])
    result = cli_inproc(
        "data",
        "inspect",
        "--dataset",
        "list",
        "--root",
        "/",
        "--annotations",
        str(lists),
        "--check",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["frames"] == {str(path): len(ref) for path, ref in files.values()}
    assert info["unreadable"] == [str(broken)]
    assert str(broken) in info["unreadable_reasons"][str(broken)]
    text = cli_inproc(
        "data",
        "inspect",
        "--dataset",
        "list",
        "--root",
        "/",
        "--annotations",
        str(lists),
        "--check",
    ).stdout
    assert f"frames     36  {files['truncated.mp4'][0]}" in text
    assert f"unreadable: {broken} (" in text


def test_decode_threads_share_the_cores_over_the_workers():
    import os

    cores = len(os.sched_getaffinity(0))
    assert decode_threads(DataConfig("list", workers=0)) == cores
    assert decode_threads(DataConfig("list", workers=2)) == max(1, cores // 2)
    assert decode_threads(DataConfig("list", workers=4 * cores)) == 1
    assert decode_threads(DataConfig("list", workers=2, decode_threads=3)) == 3


def test_the_source_decodes_with_the_configured_threads(files):
    path = files["h264_bframes.mp4"][0]
    source = open_video(DataConfig("list", decode_threads=3), Sample(path, 0), "train")
    assert source.stream.codec_context.thread_count == 3
    source.close()


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"decoder": "decord"}, "data.decoder 'decord': choose from pyav, torchcodec"),
        ({"decode_device": "gpu"}, "data.decode_device 'gpu': choose cpu or cuda"),
        ({"decode_device": "cuda"}, 'only with data.decoder = "torchcodec"'),
    ],
)
def test_bad_decoder_options_are_one_line_errors(knobs, message):
    with pytest.raises(DataError, match=message):
        check_decoder(DataConfig("list", **knobs))


def test_cuda_decoding_needs_cuda_and_no_workers():
    import torch

    cfg = DataConfig("list", decoder="torchcodec", decode_device="cuda", workers=2)
    expected = "set data.workers = 0" if torch.cuda.is_available() else "no CUDA device"
    with pytest.raises(DataError, match=expected):
        check_decoder(cfg)


LAST_FRAME = "torchcodec 0.17 fails on the last frame of an AVI with B-frames"
TORCHCODEC_FAILS = {
    "mpeg4_bframes.avi": LAST_FRAME,
    "xvid_packed.avi": LAST_FRAME,
    "truncated.mp4": "torchcodec counts the cut last packet as a frame and fails on frame 34",
}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(reason=TORCHCODEC_FAILS[n], strict=True))
        if n in TORCHCODEC_FAILS
        else n
        for n in NAMES
    ],
)
def test_torchcodec_gives_ffmpegs_frames(files, name):
    pytest.importorskip("torchcodec", reason="pip install 'mtbench[torchcodec]'")
    from mtbench.data.decode import TorchcodecSource

    path, reference = files[name]
    source = TorchcodecSource(path)
    assert source.num_frames == len(reference)
    for indices in sampler_indices(source.num_frames)[-13:]:
        assert np.array_equal(source.read(indices), reference[indices]), (name, indices)
    for i in range(source.num_frames):
        assert np.array_equal(source.read(np.array([i]))[0], reference[i]), (name, i)


def test_the_record_names_the_decoder_its_version_and_threads():
    import av

    from mtbench.data.decode import decoder_fields

    cfg = DataConfig("list", workers=2, decode_threads=2)
    assert decoder_fields(cfg) == {"decoder": f"pyav-{av.__version__}", "decode_threads": 2}
    frames = decoder_fields(DataConfig("frames", workers=2))
    assert frames["decode_threads"] is None and frames["decoder"].startswith("pillow-")
    torchcodec = pytest.importorskip("torchcodec")
    named = decoder_fields(DataConfig("list", decoder="torchcodec"))["decoder"]
    assert named == f"torchcodec-{torchcodec.__version__}"


def test_data_bench_times_every_reader_on_the_same_clips(files, tmp_path, cli_inproc):
    import shutil

    for name in ("h264_bframes.mp4", "vp9.webm"):
        shutil.copy(files[name][0], tmp_path / name)
    result = cli_inproc("data", "bench", str(tmp_path), "--clips", "3", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    rows = {row["reader"]: row for row in info["readers"]}
    assert list(rows)[0] == "mtbench-pyav" and rows["mtbench-pyav"]["vs_mtbench"] == 1.0
    assert "mmaction2-pyav" in rows and info["videos"] == 2
    for row in rows.values():
        assert row["clips"] == 3 and row["cpu_ms_per_clip"] > 0
    # MMAction2's loop decodes every frame from the start: the same frames, FFmpeg's.
    assert rows["mmaction2-pyav"]["same_frames_as_mtbench"] == 3


def test_data_bench_on_a_folder_without_videos_is_a_usage_error(tmp_path, cli_inproc):
    result = cli_inproc("data", "bench", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path}: no video files" in result.stderr


def test_torchcodec_segments_match_on_a_constant_rate_file(files):
    pytest.importorskip("torchcodec", reason="pip install 'mtbench[torchcodec]'")
    from mtbench.data.decode import TorchcodecSource

    path, _ = files["h264_bframes.mp4"]
    ours, theirs = VideoSource(path, 0.4, 1.2, threads=1), TorchcodecSource(path, 0.4, 1.2)
    assert ours.num_frames == theirs.num_frames == 20
    every = np.arange(20)
    assert np.array_equal(theirs.read(every), ours.read(every))


def _read_in_child(path, queue) -> None:
    queue.put(VideoSource(path, threads=1).read(np.array([0, 5])).sum())


def test_a_worker_forked_after_the_parent_decoded_does_not_hang(files):
    """The RGB converter's slice threads do not survive fork: a DataLoader worker must not
    use the parent's (it waited forever for them)."""
    import multiprocessing

    path, reference = files["h264_bframes.mp4"]
    assert np.array_equal(VideoSource(path, threads=1).read(np.array([0, 5])), reference[[0, 5]])
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_read_in_child, args=(path, queue))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0
    assert queue.get(timeout=5) == reference[[0, 5]].sum()
