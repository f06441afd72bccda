"""Execution options (cudnn_benchmark, compile_mode, cuda_graphs, amp): validation, what
reaches the record, cell keys of suites that do not set them, and the CUDA-graph recipe as
far as a CPU allows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error
from suite_files import suite_cells

from mtbench.measure import execution, latency
from mtbench.measure.profile import ProfileOptions, profile
from mtbench.suite.grid import load_suite
from mtbench.suite.store import read_records

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).parent.parent
TINY = [1, 3, 2, 16, 16]


@pytest.mark.slow
def test_shipped_suites_keep_their_cell_keys():
    """Keys computed by d780715, before the execution options existed: existing stores
    still resume (their cells are found done, not measured again)."""
    expected = json.loads((ROOT / "tests/fixtures/cell_keys_d780715.json").read_text())
    for suite, keys in expected.items():
        assert [cell.key for cell in load_suite(ROOT / suite)[1]] == keys, suite


@pytest.mark.parametrize(
    "setting",
    [
        "cudnn_benchmark = false",
        "cudnn_benchmark = true",
        'compile = true\ncompile_mode = "max-autotune"',
        "cuda_graphs = true",
        'amp = true\ndtype = "bfloat16"',
    ],
)
def test_a_set_execution_option_reaches_the_cell_and_makes_a_new_key(tmp_path, setting):
    (plain,) = suite_cells(tmp_path, 'compile = true\ndtype = "bfloat16"')
    (cell,) = suite_cells(tmp_path, setting)
    key, _, value = setting.splitlines()[-1].partition(" = ")
    assert getattr(cell.options, key) == json.loads(value)
    assert cell.config()["options"][key] == json.loads(value)
    assert cell.key != plain.key


def test_bad_compile_mode_in_a_suite_names_the_key_and_the_choices(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ncompile_mode = "fast"\n[[models]]\nname = "r3d-18"\n'
    )
    result = cli_inproc("run", str(path), "--output", str(tmp_path / "out"))
    assert_one_line_error(result, "defaults.compile_mode", "reduce-overhead", "max-autotune")


@pytest.mark.parametrize(
    ("options", "key", "needle"),
    [
        ({"compile_mode": "turbo"}, "compile_mode", "max-autotune"),
        ({"compile_mode": "max-autotune"}, "compile_mode", "needs compile = true"),
        ({"amp": True}, "amp", "bfloat16 or float16"),
        ({"cuda_graphs": True, "device": "cpu"}, "cuda_graphs", "needs device cuda"),
        (
            {"cuda_graphs": True, "compile": True, "compile_mode": "reduce-overhead"},
            "cuda_graphs",
            "already replays",
        ),
    ],
)
def test_option_problems(options, key, needle):
    problems = dict(ProfileOptions(**options).problems())
    assert needle in problems[key]


def test_cuda_graphs_on_a_cpu_machine_is_one_line_error(cli_inproc):
    assert_one_line_error(
        cli_inproc("profile", "r3d-18", "--device", "cpu", "--cuda-graphs"),
        "--cuda-graphs",
        "needs device cuda",
    )
    if not torch.cuda.is_available():
        assert_one_line_error(
            cli_inproc("profile", "r3d-18", "--cuda-graphs", "--measure", "latency_fwd"),
            "cuda_graphs needs a CUDA device",
        )


def test_cuda_graphs_cell_fails_with_one_line_reason_and_the_suite_goes_on(tmp_path, cli_inproc):
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\n[defaults]\ninput = [1, 3, 2, 16, 16]\ncuda_graphs = true\n'
        'device = "cpu"\nmeasure = ["params"]\n[[models]]\nname = "r3d-18"\nnum_classes = 3\n'
    )
    cli_inproc("run", str(path), "--output", str(tmp_path / "out"))
    (record,) = read_records(tmp_path / "out")
    assert record["status"] == "failed" and "needs device cuda" in record["error"]
    assert record["cuda_graphs"] is True and "\n" not in record["error"]


def test_cudnn_benchmark_is_set_while_timing_recorded_and_restored(monkeypatch):
    seen = []
    time_runs = execution.time_runs

    def spy(*args, **kwargs):
        seen.append(torch.backends.cudnn.benchmark)
        return time_runs(*args, **kwargs)

    monkeypatch.setattr(execution, "time_runs", spy)
    before = torch.backends.cudnn.benchmark
    for setting, expected in ((True, True), (None, torch.cuda.is_available())):
        options = ProfileOptions(
            warmup=0, repeats=1, measure=("latency_fwd",), cudnn_benchmark=setting
        )
        record = profile("r3d-18", {"num_classes": 2}, TINY, options)
        assert record["cudnn_benchmark"] is expected and seen[-1] is expected
        assert torch.backends.cudnn.benchmark == before


@pytest.mark.parametrize(
    ("dtype", "amp", "precision", "weights"),
    [
        ("bfloat16", True, "autocast", torch.float32),
        ("bfloat16", False, "cast", torch.bfloat16),
        ("float32", False, "float32", torch.float32),
    ],
)
def test_precision_reaches_the_record_and_runs_as_recorded(
    monkeypatch, dtype, amp, precision, weights
):
    """Autocast keeps float32 weights and computes convs in bfloat16; a cast model holds
    bfloat16 weights. MTNet's SR gate (float32 cell) and skip meet bfloat16 features here."""
    logits, weight_dtypes = [], []
    forward_step = latency.forward_step

    def spy(model, x, autocast=None):
        run = forward_step(model, x, autocast)
        weight_dtypes.append(next(model.parameters()).dtype)
        return lambda: logits.append(run())

    monkeypatch.setattr(execution, "forward_step", spy)
    options = ProfileOptions(
        dtype=dtype, amp=amp, warmup=0, repeats=1, measure=("latency_fwd", "latency_fwdbwd")
    )
    record = profile("mtnet-32", {"num_classes": 3}, [2, 3, 2, 32, 32], options)
    assert record["status"] == "ok" and record["precision"] == precision
    assert record["amp"] is amp and record["dtype"] == dtype
    assert weight_dtypes == [weights]
    assert logits[0].dtype == (torch.float32 if dtype == "float32" else torch.bfloat16)


class FakeGraphs:
    """Stands in for torch.cuda's streams and graphs, logging what happens on which."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.where = "main"
        fake = self

        class Stream:
            def wait_stream(self, other: object) -> None:
                fake.log.append(f"{fake.where} waits")

        class Context:
            def __init__(self, where: str) -> None:
                self.where = where

            def __enter__(self) -> None:
                self.before, fake.where = fake.where, self.where

            def __exit__(self, *exc: object) -> None:
                fake.where = self.before

        class CUDAGraph:
            def replay(self) -> None:
                fake.log.append("replay")

        self.Stream = Stream
        self.CUDAGraph = CUDAGraph
        self.current_stream = Stream
        self.stream = lambda stream: Context("side")
        self.graph = lambda graph: Context("capture")


def test_cuda_graph_recipe_warms_up_on_a_side_stream_captures_once_then_replays(monkeypatch):
    fake = FakeGraphs()
    for name in ("Stream", "CUDAGraph", "current_stream", "stream", "graph"):
        monkeypatch.setattr(latency.torch.cuda, name, getattr(fake, name))
    replay = latency.cuda_graph_replay(lambda: fake.log.append(f"run on {fake.where}"), warmup=2)
    replay()
    replay()
    assert fake.log == [
        "main waits",
        "run on side",
        "run on side",
        "main waits",
        "run on capture",
        "replay",
        "replay",
    ]


def test_gpu_latency_suite_covers_models_modes_and_precisions(monkeypatch):
    from mtbench.suite import grid

    # Building 320 models on the meta device to validate them, and running their forwards
    # there, takes minutes here; the models and keyword arguments are those of
    # suites/baselines.toml, whose own test validates them.
    monkeypatch.setattr(grid, "validate_model", lambda name, **kwargs: torch.nn.Identity())
    monkeypatch.setattr(grid, "check_input", lambda *args: None)
    spec, cells = load_suite(ROOT / "suites/gpu-latency.toml")
    models = {(c.model, c.kwargs.get("g", 1)) for c in cells}
    assert len(models) == 20 and ("mtnet-132", 8) in models and ("slowfast-r101", 1) in models
    modes = {
        (c.input_shape[0], c.options.compile, c.options.cuda_graphs, c.options.precision())
        for c in cells
    }
    assert len(modes) == 16 and len(cells) == 20 * 16
    assert {c.options.precision() for c in cells} == {"float32", "autocast"}
    assert all(c.input_shape[1:] == [3, 16, 256, 256] and not c.options.problems() for c in cells)
