"""Deployment scenarios (issue 38): MLPerf's LoadGen and live streams drive an executor's
forward; stub executors of known latency (a forward that sleeps a fixed time, the system
under test) check what the scenarios conclude, tiny real models that the records are whole.
"""

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_one_line_error

from mtbench.executor import FORWARD, Executor, Step
from mtbench.measure.loadgen_run import LoadGenSettings, parse_summary, run_loadgen
from mtbench.measure.scenarios import SEARCH_STEPS, offline_search, run_scenario
from mtbench.measure.stream import StreamSettings, run_stream, stream_result
from mtbench.options import ProfileOptions
from mtbench.record import LATENCY_KEYS
from mtbench.suite.grid import load_suite

pytest.importorskip("mlperf_loadgen")

FIXTURES = Path(__file__).parent / "fixtures" / "loadgen"
FWD = ("params", "latency_fwd")


class Stub:
    """A forward that sleeps `ms` and keeps its own duration of every call: the reference
    LoadGen's latencies are checked against."""

    def __init__(self, ms: float) -> None:
        self.ms = ms
        self.took: list[float] = []

    def __call__(self) -> None:
        start = time.perf_counter()
        time.sleep(self.ms / 1000)
        self.took.append((time.perf_counter() - start) * 1000)

    def executor(self, batch: int = 1) -> Executor:
        return Executor("pytorch", torch.device("cpu"), batch, {FORWARD: Step(lambda: None, self)})


def percentile(values: list[float], q: float) -> float:
    return float(torch.quantile(torch.tensor(values, dtype=torch.float64), q))


def test_the_summary_is_parsed_as_loadgen_wrote_it():
    run = parse_summary((FIXTURES / "single_stream_summary.txt").read_text())
    assert run["scenario"] == "SingleStream" and run["result"] == "VALID" and run["failed"] == []
    assert run["percentiles_ms"] == pytest.approx(
        {
            "p50": 2.103752,
            "p90": 2.131562,
            "p95": 2.148976,
            "p97": 2.167956,
            "p99": 2.264031,
            "p99.9": 2.323251,
        }
    )
    assert run["early_stopping_ms"] == {"p90": pytest.approx(2.138780)}
    assert (run["qps_with_overhead"], run["qps_without_overhead"]) == (472.50, 474.32)
    assert run["parameters"]["min_duration (ms)"] == "1000"
    server = parse_summary((FIXTURES / "server_summary.txt").read_text())
    assert server["result"] == "INVALID" and server["failed"] == ["early stopping"]
    assert (server["samples_per_s"], server["scheduled_samples_per_s"]) == (89.86, 90.37)
    assert server["early_stopping"][2].startswith("Would need to run at least 366 more queries,")


@pytest.mark.serial
def test_single_stream_p90_is_the_stubs_own(tmp_path):
    stub = Stub(20.0)
    settings = LoadGenSettings("single-stream", 1.0, 16, 0, 20.0)
    run = run_loadgen(stub.executor(), settings, tmp_path)
    # LoadGen timed every query the stub ran: its p90 is the stub's own p90 of those calls,
    # apart from LoadGen's call into the system under test and back (microseconds).
    assert run["percentiles_ms"]["p90"] >= 20.0
    assert run["percentiles_ms"]["p90"] == pytest.approx(percentile(stub.took, 0.9), abs=1.0)
    assert run["loadgen_version"].startswith("6.") and run["scenario"] == "SingleStream"
    # The record keeps each query's latency as the system under test saw it: one per stub call,
    # each the call's own time and LoadGen's hand-over (well under a millisecond).
    assert len(run["latencies_ms"]) == len(stub.took)
    assert all(-1e-3 < q - t < 1.0 for q, t in zip(run["latencies_ms"], stub.took, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "mlperf_log_detail.txt",
        "mlperf_log_summary.txt",
    ]


@pytest.mark.serial
@pytest.mark.slow
def test_the_server_search_finds_the_rate_the_stub_sustains(tmp_path):
    stub = Stub(10.0)  # 100 queries/s back to back
    options = ProfileOptions(
        scenario="server",
        search=True,
        target_latency_ms=60.0,
        min_duration_s=1.0,
        measure=FWD,
    )
    part = run_scenario(options, stub.executor(), stub.executor, [1, 3, 8, 16, 16], tmp_path)
    search = part["search"]
    assert len(search["curve"]) == SEARCH_STEPS
    for point in search["curve"]:
        assert point["passed"] == (point["p99_ms"] <= 60.0), point
    found = search["found"]
    assert found is not None and 25.0 <= found < 100.0
    # Bisection: the lowest rate that failed is one last step above the rate found.
    failed = min(p["at"] for p in search["curve"] if not p["passed"])
    assert failed - found == pytest.approx(1.25 * 100 / 2**SEARCH_STEPS, rel=0.3)
    assert part["loadgen"]["parameters"]["target_qps"] == f"{found:.6g}"
    assert part["short"] and not part["mlperf_valid"] and "not MLPerf-valid" in part["label"]


@pytest.mark.serial
def test_the_server_search_stops_when_one_query_is_over_the_bound(tmp_path):
    """MViTv2-S's forward (about 1.1 s) over a 1 s bound: no rate can pass, and each bisection
    step towards zero ran longer (17 min for six). One run at half the capacity says so."""
    stub = Stub(40.0)
    options = ProfileOptions(
        scenario="server", search=True, target_latency_ms=30.0, min_duration_s=0.5, measure=FWD
    )
    part = run_scenario(options, stub.executor(), stub.executor, [1, 3, 8, 16, 16], tmp_path)
    search = part["search"]
    assert search["found"] is None and len(search["curve"]) == 1
    (point,) = search["curve"]
    assert not point["passed"] and point["p99_ms"] > 30.0
    assert point["at"] == pytest.approx(1000 / 40 / 2, rel=0.2)
    assert (
        search["note"].startswith("one query alone takes 4")
        and "over the 30 ms bound" in (search["note"])
    )


def test_offline_stops_at_the_batch_whose_allocation_fails(tmp_path):
    stub = Stub(5.0)

    def make(batch: int) -> Executor:
        if batch > 4:
            raise torch.OutOfMemoryError(f"tried to allocate a batch of {batch}")
        return stub.executor(batch)

    options = ProfileOptions(scenario="offline", min_duration_s=0.2, max_batch=64, measure=FWD)
    run, search = offline_search(options, make, tmp_path)
    # 1, 2, 4 run; 8 fails; timm's decay steps back between 4 and 8: 6, 5, then none is left.
    assert [p["at"] for p in search["curve"]] == [1, 2, 4, 8, 6, 5]
    assert [p["passed"] for p in search["curve"]] == [True, True, True, False, False, False]
    assert "out of memory: tried to allocate a batch of 8" == search["curve"][3]["why"]
    assert search["found"] == 4 and run["scenario"] == "Offline"
    best = max(search["curve"][:3], key=lambda p: p["throughput"])
    assert best["at"] == 4


def test_no_batch_that_runs_says_so(tmp_path):
    def make(batch: int) -> Executor:
        raise torch.OutOfMemoryError("nothing fits")

    options = ProfileOptions(scenario="offline", measure=FWD)
    run, search = offline_search(options, make, tmp_path)
    assert run is None and search["found"] is None and search["note"] == "no batch ran"
    assert [p["at"] for p in search["curve"]] == [1]


def test_misses_are_windows_done_after_the_next_was_ready():
    settings = StreamSettings(fps=10.0, window=4, stride=2, min_duration_s=1.0)
    # Windows ready at 0.3, 0.5, 0.7 s: the first is done at 0.45 (in time), the second at
    # 0.75 (after 0.7: a miss), the third at 0.95 (after 0.9, when a fourth would be due).
    run = stream_result(settings, [150.0, 250.0, 250.0], [0.45, 0.75, 0.95], [150.0, 200.0, 200.0])
    assert (run["windows"], run["misses"]) == (3, 2)
    assert run["miss_rate"] == pytest.approx(2 / 3)
    assert run["sustained_fps"] == pytest.approx(2 * 2 / 0.5)  # 4 frames over 0.5 s
    assert run["p50_ms"] == 250.0 and run["max_ms"] == 250.0
    assert run["latencies_ms"] == [150.0, 250.0, 250.0]


@pytest.mark.serial
def test_a_stream_above_the_stubs_rate_misses_and_below_does_not():
    at_50, at_400 = Stub(20.0), Stub(20.0)  # a window every 20 ms at most: 200 fps
    below = run_stream(at_50.executor(), StreamSettings(50.0, 8, 4, 0.8))
    above = run_stream(at_400.executor(), StreamSettings(400.0, 8, 4, 0.4))
    assert below["misses"] == 0 and below["sustained_fps"] == pytest.approx(50.0, rel=0.1)
    # Below the rate a window waits for no other: its latency is its own forward and the
    # wake-up at its last frame, less than a second forward it would have waited behind.
    # Only this stream's forwards: the other's, in the median, put it above p50 by 8 us once.
    own = percentile(at_50.took[1:], 0.5)  # the first call is the untimed one
    assert own <= below["p50_ms"] < 2 * own
    assert above["miss_rate"] > 0.5 and above["sustained_fps"] < 0.6 * 400.0


def test_a_window_waits_for_its_last_frame():
    """The clock: window k is classified no earlier than its last frame's arrival."""
    calls: list[float] = []
    lock = threading.Lock()

    def run() -> None:
        with lock:
            calls.append(time.perf_counter())

    executor = Executor("pytorch", torch.device("cpu"), 1, {FORWARD: Step(lambda: None, run)})
    settings = StreamSettings(fps=100.0, window=4, stride=2, min_duration_s=0.1)
    result = run_stream(executor, settings)
    windows = calls[1:]  # the first call is the untimed one before the stream starts
    assert len(windows) == result["windows"] == settings.windows() == 4
    # Window k is due (k * 2 + 3) / 100 s after the start: 20 ms after the one before; the
    # first may start late by the clock's overshoot, which the 5 ms allows for.
    for k, at in enumerate(windows):
        assert at - windows[0] >= k * 0.020 - 0.005
    assert min(result["p50_ms"], result["max_ms"]) >= 0


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--scenario", "single-strem"], ["--scenario", "did you mean 'single-stream'"]),
        (["--scenario", "server", "--measure", "latency_fwd,latency_fwdbwd"], ["latency_fwdbwd"]),
        (["--scenario", "server", "--measure", "latency_fwd"], ["target_qps or search"]),
        (["--target-latency-ms", "0"], ["--target-latency-ms", "number > 0"]),
        (["--fps", "-25"], ["--fps", "number > 0"]),
        (["--stride", "0"], ["--stride", "integer >= 1"]),
        (["--min-duration-s", "0"], ["--min-duration-s", "number > 0"]),
        (
            ["--scenario", "stream", "--stride", "17", "--measure", "latency_fwd"],
            ["--stride", "17 is larger than the window, 16 frames"],
        ),
        (
            ["--scenario", "stream", "--stream-video", "tests/videos.py"],
            ["--stream-video", 'needs scenario = "stream" and stream_source = "video"'],
        ),
        (
            ["--scenario", "stream", "--stream-source", "video", "--stream-video", "no.mp4"],
            ["--stream-video", "no such file: no.mp4"],
        ),
    ],
)
def test_bad_scenario_options_are_one_line(cli_inproc, args, needles):
    assert_one_line_error(cli_inproc("profile", "r3d-18", *args), *needles)


def test_a_missing_loadgen_names_the_install_command(cli_inproc, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlperf_loadgen", None)  # `import` raises ImportError
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--scenario", "offline", "--measure", "latency_fwd"),
        "--scenario",
        "pip install 'mtbench[loadgen]'",
    )
    # A stream needs no LoadGen.
    assert ProfileOptions(scenario="stream", measure=FWD).problems() == []


TRAINING = """
[suite]
name = "x"
[data]
dataset = "synthetic"
num_classes = 5
frames = 8
crop = 32
[defaults]
measure = ["latency_fwd"]
scenario = "single-stream"
[[models]]
name = "r3d-18"
"""


def test_a_scenario_on_a_training_cell_is_one_line(tmp_path, cli_inproc):
    path = tmp_path / "x.toml"
    path.write_text(TRAINING)
    assert_one_line_error(
        cli_inproc("run", str(path), "--dry-run"),
        "defaults.scenario",
        "measure-only cells only",
    )


def test_a_stride_beyond_a_suites_window_names_the_models_key(tmp_path, cli_inproc):
    path = tmp_path / "x.toml"
    path.write_text(
        '[suite]\nname = "x"\n[defaults]\nmeasure = ["latency_fwd"]\nscenario = "stream"\n'
        "input = [1, 3, 8, 32, 32]\n[[models]]\nname = 'r3d-18'\nstride = 9\n"
    )
    assert_one_line_error(
        cli_inproc("run", str(path), "--dry-run"), "models[0].stride", "larger than the window"
    )


def test_suites_without_a_scenario_keep_their_keys(tmp_path):
    path = tmp_path / "s.toml"
    body = '[suite]\nname = "s"\n[[models]]\nname = "r3d-18"\n'
    path.write_text(body)
    (plain,) = load_suite(path)[1]
    path.write_text(body + 'scenario = ["repeat", "single-stream"]\nmeasure = ["latency_fwd"]\n')
    repeat, single = load_suite(path)[1]
    path.write_text(body + 'measure = ["latency_fwd"]\n')
    (measured,) = load_suite(path)[1]
    assert repeat.key == measured.key != single.key
    assert plain.options.conditions()["scenario"] == "repeat"
    assert set(ProfileOptions().key_options()) == set(ProfileOptions(fps=25.0).key_options())


SCENARIO_RUNS = {
    "single-stream": {},
    "multi-stream": {"samples_per_query": 2},
    "server": {"target_qps": 20.0, "target_latency_ms": 500.0},
    "offline": {"max_batch": 2},
    "stream": {"fps": 25.0, "stream_source": "video"},
}


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["pytorch", "onnxruntime"])
@pytest.mark.parametrize("scenario", list(SCENARIO_RUNS))
def test_every_scenario_on_a_tiny_real_model_gives_a_whole_record(tmp_path, scenario, runtime):
    import tiny_models  # noqa: F401  (registers test-tiny3d)

    from mtbench.measure.profile import profile
    from mtbench.record import read_record

    if runtime != "pytorch":
        pytest.importorskip("onnxruntime")
    options = ProfileOptions(
        scenario=scenario,
        runtime=runtime,
        measure=FWD,
        threads=1,
        warmup=1,
        repeats=2,
        min_duration_s=0.3,
        min_query_count=4,
        **SCENARIO_RUNS[scenario],
    )
    record = read_record(profile("test-tiny3d", {}, [1, 3, 8, 32, 32], options, cache_dir=tmp_path))
    assert record["status"] == "ok" and record["scenario"] == scenario
    assert record["latency_fwd_ms"]["repeats"] == 2  # the repeats stand beside the scenario
    assert record["params_total"] > 0
    part = record["scenario_run"]
    assert part["name"] == scenario and part["short"] and not part["mlperf_valid"]
    # The machine was watched over the whole scenario, as over the repeats beside it.
    assert part["verdict"] in ("clean", "disturbed", "unknown")
    assert part["contention"]["wall_s"] > 0 and part["contention"]["threads"] == 1
    if scenario == "stream":
        stream = part["stream"]
        assert (stream["window"], stream["stride"], stream["source"]) == (8, 4, "video")
        assert stream["windows"] == StreamSettings(25.0, 8, 4, 0.3).windows()
        assert (tmp_path / "scenarios" / "stream.mp4").exists()
        assert stream["video"] == "random frames at the clip's size"
        return
    loadgen = part["loadgen"]
    assert set(loadgen["percentiles_ms"]) == {"p50", "p90", "p95", "p97", "p99", "p99.9"}
    assert loadgen["result"] in ("VALID", "INVALID") and loadgen["loadgen_version"]
    assert len(loadgen["latencies_ms"]) >= (1 if scenario == "offline" else 4)
    for log in loadgen["logs"]:
        assert (tmp_path / log).read_text().strip()
    if scenario == "offline":
        assert [p["at"] for p in part["search"]["curve"]] == [1, 2]
        assert loadgen["samples_per_s"] > 0


@pytest.mark.slow
def test_profile_prints_the_stream_it_ran(cli_inproc):
    import json

    from mtbench.cli import record_table

    args = ["--input", "1x3x8x32x32", "--measure", "latency_fwd", "--threads", "1"]
    args += ["--repeats", "2", "--scenario", "stream", "--fps", "5", "--min-duration-s", "2"]
    result = cli_inproc(
        "profile", "test-tiny3d", "--import", "tests/tiny_models.py", *args, "--json"
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    stream = record["scenario_run"]["stream"]
    assert (stream["fps"], stream["window"], stream["stride"]) == (5.0, 8, 4)
    assert stream["windows"] == StreamSettings(5.0, 8, 4, 2.0).windows() == 2
    rows = dict(record_table(record).rows)
    assert rows["missed windows"].startswith(f"{stream['misses']} of {stream['windows']} (")
    # Not a serial test: another worker may make the stream's verdict disturbed, which it says.
    part = record["scenario_run"]
    disturbed = f"; disturbed ({'; '.join(part['reasons'])})" if part["verdict"] != "clean" else ""
    assert rows["scenario"] == f"stream{disturbed}; live stream (not an MLPerf scenario)"


def test_a_search_says_when_nothing_or_everything_passed():
    from mtbench.measure.scenarios import bisect

    def point(at: float, passed: bool) -> dict:
        return {"at": at, "passed": passed}

    none = bisect("fps", lambda at: point(at, False), 0.0, 64.0)
    assert none["found"] is None and none["note"] == "no fps passed in 6 steps"
    assert [p["at"] for p in none["curve"]] == [32.0, 16.0, 8.0, 4.0, 2.0, 1.0]
    every = bisect("fps", lambda at: point(at, True), 0.0, 64.0)
    assert every["found"] == 63.0 and "may lie above the 64 searched" in every["note"]
    half = bisect("fps", lambda at: point(at, at <= 20.0), 0.0, 64.0)
    assert half["found"] == 20.0 and half["note"] is None


def test_offline_stops_at_the_memory_budget(tmp_path):
    import numpy as np

    def make(batch: int) -> Executor:
        def run() -> None:
            held = np.ones(batch * 40 * 2**20 // 8)  # 40 MiB a clip, every page written
            time.sleep(0.02)  # the stub's forward: long enough for the memory sampler
            del held

        return Executor("pytorch", torch.device("cpu"), batch, {FORWARD: Step(lambda: None, run)})

    options = ProfileOptions(
        scenario="offline", min_duration_s=0.2, memory_budget_mb=120.0, measure=FWD
    )
    run, search = offline_search(options, make, tmp_path)
    assert [p["at"] for p in search["curve"]] == [1, 2, 4]
    assert [p["passed"] for p in search["curve"]] == [True, True, False]
    assert search["curve"][2]["why"] == "over the 120 MiB budget"
    assert search["found"] in (1, 2) and run is not None


def test_offline_does_not_try_a_batch_that_would_not_fit_in_host_memory(tmp_path, monkeypatch):
    """A process out of host memory is killed, not told (MViTv2-S's batch 16 under OpenVINO
    took a whole suite): the search stops before a batch whose need, the host memory the
    last batch's executor took, scaled, is over HOST_MEMORY_SHARE of the available memory
    (here 300 MiB). The stub's executor holds 40 MiB a clip from when it is built, as
    OpenVINO's compiled model holds its buffers: its runs add nothing."""
    from mtbench.measure import scenarios

    monkeypatch.setattr(scenarios, "available_mb", lambda: 300.0)
    built = []

    def make(batch: int) -> Executor:
        built.append(batch)
        held = np.ones(batch * 40 * 2**20 // 8)  # 40 MiB a clip, every page written
        time.sleep(0.02)  # long enough for the memory sampler

        def run() -> None:
            held[0] += 1

        return Executor("pytorch", torch.device("cpu"), batch, {FORWARD: Step(lambda: None, run)})

    options = ProfileOptions(scenario="offline", min_duration_s=0.2, max_batch=64, measure=FWD)
    run, search = offline_search(options, make, tmp_path)
    # batch 4's 160 MiB scaled to 8 is 320, over 0.8 x 300: 8 is never built.
    assert built == [1, 2, 4]
    assert [p["at"] for p in search["curve"]] == [1, 2, 4, 8]
    assert [p["passed"] for p in search["curve"]] == [True, True, True, False]
    why = search["curve"][3]["why"]
    assert why.startswith("not tried: would need about 3") and why.endswith("300 MiB available")
    assert search["found"] in (1, 2, 4) and run is not None


def test_available_memory_is_the_machines_or_the_cgroups():
    from mtbench.measure.memory import available_mb

    free = available_mb()
    with open("/proc/meminfo") as fh:
        meminfo = {line.split(":")[0]: int(line.split()[1]) for line in fh}
    assert free is not None and 0 < free <= meminfo["MemAvailable"] / 1024 + 64


def test_a_disturbed_scenario_makes_its_cell_disturbed():
    """--retime-disturbed and publish read verdict_of: a scenario run on a busy machine counts
    even when the repeats beside it were clean."""
    from mtbench.record import verdict_of

    clean = {"verdict": "clean"}
    record = {key: None for key in LATENCY_KEYS} | {"latency_fwd_ms": clean}
    assert verdict_of(record | {"scenario_run": {"name": "server"}}) == "clean"
    busy = {"name": "server", "verdict": "disturbed", "reasons": ["others"]}
    assert verdict_of(record | {"scenario_run": busy}) == "disturbed"


def test_a_users_video_is_made_the_clip_as_evaluation_makes_a_view(tmp_path, one_thread):
    """A 48x64 video for a 32x32 clip: each due window's new frames, decoded, are evaluation's
    one centre crop of them (short side to 32, the centre 32 columns, normalised); a
    non-square clip gets its own size."""
    from mtbench.data.config import DataConfig
    from mtbench.data.decode import VideoSource
    from mtbench.data.transforms import eval_transform, normalise, resize_short, to_tensor
    from mtbench.measure.stream import decoder_of, write_stream_video

    video = write_stream_video(tmp_path / "user.mp4", 20, 48, 64, 25)
    decode = decoder_of(StreamSettings(25.0, 8, 4, 1.0, "video", video, (32, 32)))
    frames = VideoSource(video).read(np.arange(20))
    first, second = decode(0), decode(1)
    expected = eval_transform(frames[8:12], 32, 32, 1, DataConfig.mean, DataConfig.std)[0]
    assert first.shape == (3, 8, 32, 32) and second.shape == (3, 4, 32, 32)
    assert torch.equal(second, expected)
    wide = decoder_of(StreamSettings(25.0, 8, 4, 1.0, "video", video, (24, 40)))(0)
    assert wide.shape == (3, 8, 24, 40)
    # short side 48 -> 40 (the clip's longer side): 40 x 53, its centre 24 x 40
    resized = resize_short(to_tensor(frames[:8]), 40)
    top, left = (resized.shape[-2] - 24) // 2, (resized.shape[-1] - 40) // 2
    crop = resized[..., top : top + 24, left : left + 40]
    assert torch.equal(wide, normalise(crop, DataConfig.mean, DataConfig.std))


@pytest.mark.slow
def test_a_stream_decodes_the_users_video_and_names_it(tmp_path, cli_inproc, monkeypatch):
    import json

    from mtbench.measure.stream import write_stream_video

    monkeypatch.chdir(tmp_path)
    write_stream_video(tmp_path / "user.mp4", 24, 48, 64, 25)
    args = ["--input", "1x3x8x32x32", "--measure", "latency_fwd", "--threads", "1"]
    args += ["--repeats", "2", "--scenario", "stream", "--fps", "10", "--min-duration-s", "1.2"]
    args += ["--stream-source", "video", "--stream-video", "user.mp4"]
    result = cli_inproc(
        "profile",
        "test-tiny3d",
        "--import",
        str(Path(__file__).parent / "tiny_models.py"),
        *args,
        "--json",
    )
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    stream = record["scenario_run"]["stream"]
    assert (stream["source"], stream["video"]) == ("video", "user.mp4")
    assert stream["windows"] == StreamSettings(10.0, 8, 4, 1.2).windows() == 2
    assert record["scenario_run"]["settings"]["video"] == "user.mp4"
    from mtbench.cli import record_table

    assert dict(record_table(record).rows)["stream"].endswith("every 4, video (user.mp4)")


def test_a_stream_whose_forwards_left_the_repeats_speed_is_disturbed():
    """Measured here: r3d-18 under OpenVINO, repeats' median 249 ms, a 25 fps stream's
    forwards 336 ms with nothing else running (100% missed), its search's 232 ms (none)."""
    from mtbench.measure.stream import speed_drift

    def stream(forward_ms: float) -> dict:
        return {"forward_ms": forward_ms}

    (reason,) = speed_drift(stream(336.0), 249.0)
    assert reason.startswith("the stream's forwards (median 336.0 ms) ran at 1.35 times")
    assert speed_drift(stream(232.0), 249.0) == []
    assert speed_drift(stream(249.0 * 1.25), 249.0) == []  # the band's edge: still as fast
    assert len(speed_drift(stream(190.0), 249.0)) == 1  # 0.76: faster by as much
    assert speed_drift(stream(336.0), None) == []  # no repeats to hold it against
