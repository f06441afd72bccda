"""Interleaved timing of a suite's cells, and `mtbench run --retime-disturbed` (issue 27)."""

import textwrap
from dataclasses import replace

import pytest
import typer
from conftest import assert_one_line_error
from typer.testing import CliRunner

from mtbench.executor import FORWARD
from mtbench.launch.commands import register
from mtbench.registry import create_model
from mtbench.suite import interleave
from mtbench.suite.grid import expand, load_suite
from mtbench.suite.quantized import is_reference
from mtbench.suite.runner import run_suite
from mtbench.suite.schema import parse_suite
from mtbench.suite.store import latest_by_cell, read_records, write_records

CONTENTION_KEYS = {
    "others_share",
    "others_cores",
    "pressure_some",
    "load_before",
    "load_after",
    "wall_s",
    "own_cpu_s",
    "cores",
    "threads",
}


def _suite(tmp_path, interleave_line: str = ""):
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(f"""
        [suite]
        name = "s"
        output = "{tmp_path / "out"}"
        [defaults]
        device = "cpu"
        input = [2, 3, 4, 16, 16]
        warmup = 1
        repeats = 3
        measure = ["params", "latency_fwd", "latency_fwdbwd"]
        {interleave_line}
        [[models]]
        name = "test-tiny"
        width = [2, 3, 5]
        """)
    )
    return parse_suite(path)


def test_interleaved_rounds_give_every_cell_its_repeats_and_the_same_fields(tmp_path, rounds_timed):
    calls = rounds_timed
    spec = _suite(tmp_path, "interleave = true")
    cells = expand(spec)
    (tmp_path / "alone").mkdir()
    alone = expand(_suite(tmp_path / "alone"))
    assert [c.key for c in cells] == [c.key for c in alone]  # how to time is not in the key
    summary = run_suite(spec, cells)
    assert len(summary.ran) == 3 and not summary.failed
    steps = 3 * 2  # cells x (forward, forward+backward)
    assert len(calls) == 3 * steps
    for k in range(3):  # round k times every step once, in its own order
        assert len(set(map(id, calls[k * steps : (k + 1) * steps]))) == steps
    assert calls[:steps] != calls[steps : 2 * steps]
    for record in read_records(spec.output):
        assert record["status"] == "ok" and record["interleaved"] is True
        assert record["params_total"] > 0
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            stats = record[key]
            assert stats["repeats"] == len(stats["samples"]) == 3
            assert set(stats["contention"]) == CONTENTION_KEYS
            assert stats["verdict"] in ("clean", "disturbed", "unknown")


def test_training_and_breakdown_cells_are_not_interleaved(tmp_path):
    cells = expand(_suite(tmp_path, "interleave = true"))
    assert interleave.interleavable(cells) == cells
    trained = replace(cells[0], workload=object())
    broken_down = replace(cells[1], options=replace(cells[1].options, measure=("breakdown",)))
    assert interleave.interleavable([trained, broken_down, cells[2]]) == [cells[2]]
    plain = expand(_suite(tmp_path))
    assert interleave.interleavable(plain) == []


@pytest.fixture
def cli():
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_retime_disturbed_times_only_those_cells_and_their_new_records_win(tmp_path, cli):
    spec = _suite(tmp_path)
    first = cli("run", spec.path)
    assert first.exit_code == 0, first.output
    records = read_records(spec.output)
    for record in records:  # a quiet run, whatever this machine was doing
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            record[key].update(verdict="clean", reasons=[])
    busy = records[1]
    busy["latency_fwd_ms"].update(verdict="disturbed", reasons=["busy"])
    write_records(spec.output, records)
    result = cli("run", spec.path, "--retime-disturbed")
    assert result.exit_code == 0, result.output
    after = read_records(spec.output)
    assert len(after) == 4  # nothing lost: the old record stays
    assert [r["cell_key"] for r in after[3:]] == [busy["cell_key"]]
    latest = latest_by_cell(after)[busy["cell_key"]]
    assert latest["latency_fwd_ms"]["samples"] != busy["latency_fwd_ms"]["samples"]
    assert latest["finished_at"] >= busy["finished_at"]


def test_the_run_summary_counts_the_disturbed_and_says_how_to_retime(tmp_path, cli):
    spec = _suite(tmp_path)
    assert cli("run", spec.path).exit_code == 0
    records = read_records(spec.output)
    for record in records:
        for key in ("latency_fwd_ms", "latency_fwdbwd_ms"):
            record[key].update(verdict="disturbed" if record is records[0] else "clean")
    write_records(spec.output, records)
    quiet = cli("run", spec.path).output.replace("\n", " ")
    assert "1 of 3 cells disturbed" in quiet and "--retime-disturbed" in quiet
    for record in records:
        record["latency_fwd_ms"]["verdict"] = record["latency_fwdbwd_ms"]["verdict"] = "clean"
    write_records(spec.output, records)
    assert "nothing to re-time" in cli("run", spec.path, "--retime-disturbed").output


def test_profile_refuses_interleave_in_one_line(cli_inproc):
    result = cli_inproc("profile", "r3d-18", "--interleave")
    assert_one_line_error(result, "--interleave", "mtbench run")


def test_runtime_cells_interleave_with_pytorch_cells(tmp_path, monkeypatch):
    """An ONNX Runtime cell is timed in the same rounds as the PyTorch cells: every round
    runs its session once, and its record says it was interleaved, with its proof of equality."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent(f"""
        [suite]
        name = "s"
        output = "{tmp_path / "out"}"
        [defaults]
        input = [1, 3, 4, 16, 16]
        threads = 1
        warmup = 1
        repeats = 3
        interleave = true
        measure = ["params", "latency_fwd"]
        [[models]]
        name = "test-tiny"
        runtime = ["pytorch", "onnxruntime"]
        """)
    )
    spec = parse_suite(path)
    cells = expand(spec)
    assert interleave.interleavable(cells) == cells
    summary = run_suite(spec, cells)
    assert not summary.failed
    records = {r["runtime"]: r for r in read_records(spec.output)}
    for record in records.values():
        assert record["interleaved"] is True and record["latency_fwd_ms"]["repeats"] == 3
    assert records["onnxruntime"]["deploy"]["max_rel_diff"] <= 1e-4


def test_ctrl_c_ends_the_rounds_and_stores_only_complete_cells(tmp_path):
    """A stop asked during the rounds ends them after the run being timed; cells whose
    repeats were not all timed are not stored, so the next run measures them again."""
    spec = _suite(tmp_path, "interleave = true")
    cells = expand(spec)
    asked = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 4  # during the first round (6 timed runs a round)

    stored = interleave.run_interleaved(spec.name, spec.output, cells, lambda p: None, stop)
    assert stored == [] and read_records(spec.output) == []
    summary = run_suite(spec, cells)
    assert len(summary.ran) == 3 and not summary.failed


def test_an_interleaved_group_logs_a_line_per_cell_in_a_pipe(tmp_path):
    import io

    from mtbench.console import LogConsole

    spec = _suite(tmp_path, "interleave = true")
    out = io.StringIO()
    run_suite(spec, expand(spec), console=LogConsole(file=out))
    lines = [line for line in out.getvalue().splitlines() if "(interleaved)" in line]
    assert len(lines) == 3 and all(": ok in" in line and "fwd" in line for line in lines)


@pytest.mark.parametrize(
    ("tick", "warm_runs", "block_runs"),
    [(2**-11, 205, 204), (2**-3, 1, 1)],
    ids=["fast-step-in-blocks", "slow-step-once"],
)
def test_each_timed_repeat_in_the_rounds_follows_untimed_runs_of_its_own_step(
    tmp_path, rounds_timed, monkeypatch, tick, warm_runs, block_runs
):
    """In a round each cell's forward would follow another network's: it is warmed again
    first, for ROUND_WARMUP_MS of untimed runs of its own (one did not bring a 3 ms INT8
    forward back to its speed), so a ratio is not a cold start's; then a repeat times as many
    runs back to back as fit in ROUND_BLOCK_MS (a single run of a few ms is a timer tick's
    noise), one for a step slower than that. The timer's clock advances by `tick` at each
    reading, so every untimed run lasts that exactly: 2**-11 s is 0.488 ms, 205 runs warm for
    100 ms and 204 fit in the block; 2**-3 s is longer than both."""
    import itertools

    from mtbench.measure import execution
    from mtbench.measure.latency import CpuTimer

    assert execution.ROUND_WARMUP_MS == execution.ROUND_BLOCK_MS == 100.0
    clock = itertools.count(step=tick).__next__
    monkeypatch.setattr(execution, "timer_for", lambda device: CpuTimer(clock))
    spied = execution.time_one
    timing = []

    def timed_one(step, timer, meter):
        timing.append(True)
        try:
            return spied(step, timer, meter)
        finally:
            timing.clear()

    monkeypatch.setattr(execution, "time_one", timed_one)
    spec = _suite(tmp_path)
    log: list[tuple[int, bool]] = []  # each run's executor, and whether it was the timed one
    timed = []
    for number, cell in enumerate(expand(spec)):
        network = create_model(cell.model, **cell.kwargs)
        executor = execution.executor_for(network, cell.input_shape, cell.options, [FORWARD])
        run = executor.steps[FORWARD].run

        def logged(run=run, number=number) -> object:
            log.append((number, bool(timing)))
            return run()

        executor.steps[FORWARD] = replace(executor.steps[FORWARD], run=logged)
        timed.append(execution.Timed(executor, [FORWARD], 2))
    execution.time_in_rounds(timed)
    assert all(t.complete() and not t.error for t in timed)
    assert len(rounds_timed) == 2 * 3
    span = warm_runs + block_runs
    stretches = [log[i : i + span] for i in range(0, len(log), span)]
    assert len(stretches) == len(rounds_timed) and len(log) == len(stretches) * span
    for stretch in stretches:  # one executor's untimed runs, then its timed block
        assert len({n for n, _ in stretch}) == 1
        assert [was_timed for _, was_timed in stretch] == [False] * warm_runs + [True] * block_runs
    for t in timed:  # a repeat's time is its block's (one tick here), per run and per clip
        stats = t.stats()[FORWARD]
        assert stats.runs_per_repeat == block_runs and stats.repeats == 2
        per_clip = 1000 * tick / (block_runs * t.executor.clips_per_run)
        assert stats.samples == pytest.approx([per_clip] * 2)


def test_trained_rounds_go_network_by_network(tmp_path):
    """Two trained networks, each with its ONNX Runtime float32 and INT8 cells: two groups,
    each the float32 PyTorch network first with the cells that measure it, timed in rounds
    one group at a time (suites/int8.toml: six networks of 9 cells or fewer)."""
    path = tmp_path / "s.toml"
    path.write_text(
        textwrap.dedent("""
        [suite]
        name = "s"
        [defaults]
        device = "cpu"
        input = [1, 3, 4, 16, 16]
        measure = ["params", "latency_fwd"]
        interleave = true
        [data]
        dataset = "synthetic"
        num_classes = 4
        frames = 4
        crop = 16
        [train]
        epochs = 1
        [[models]]
        name = "test-tiny"
        width = [2, 3]
        runtime = ["pytorch", "onnxruntime"]
        [[models]]
        name = "test-tiny"
        width = [2, 3]
        dtype = "int8"
        runtime = "onnxruntime"
        """)
    )
    _, cells = load_suite(path)
    groups = interleave.per_network(interleave.trained_rounds(cells, cells))
    assert sorted(c.key for g in groups for c in g) == sorted(c.key for c in cells)
    assert [len(g) for g in groups] == [3, 3]
    for group in groups:
        reference, *measured = group
        assert is_reference(reference) and not any(is_reference(c) for c in measured)
        assert {c.kwargs["width"] for c in group} == {reference.kwargs["width"]}
