import json
import os
import signal
import subprocess
import sys

import pytest
from conftest import assert_one_line_error
from suite_files import suite_file
from waiting import wait_until

from mtbench.record import MEASUREMENT_KEYS
from mtbench.suite.grid import expand
from mtbench.suite.runner import run_suite
from mtbench.suite.schema import parse_suite
from mtbench.suite.store import (
    WRITERS_DIR,
    append_record,
    read_records,
    store_files,
    writer_file,
)


def test_a_failing_cell_is_recorded_and_the_suite_goes_on(tmp_path):
    path = suite_file(
        tmp_path,
        """
        [[models]]
        name = "test-exploding"
        [[models]]
        name = "test-tiny"
        width = [2, 3]
        """,
    )
    spec = parse_suite(path)
    summary = run_suite(spec, expand(spec))
    records = read_records(spec.output)
    assert [r["status"] for r in records] == ["failed", "ok", "ok"]
    assert records[0]["error"] == "RuntimeError: boom in forward"
    assert records[0]["params_total"] is None and records[1]["params_total"] > 0
    assert [c.label for c, _ in summary.failed] == ["test-exploding"]
    assert (spec.output / "suite.toml").read_text() == path.read_text()
    for r in records:
        assert r["suite"] == "s" and r["cell_key"] and r["label"] and r["finished_at"]


def test_resume_skips_ok_cells_retries_failed_and_force_reruns_all(tmp_path):
    path = suite_file(
        tmp_path,
        """
        [[models]]
        name = "test-exploding"
        [[models]]
        name = "test-tiny"
        """,
    )
    spec = parse_suite(path)
    cells = expand(spec)
    run_suite(spec, cells)
    second = run_suite(spec, cells)
    assert [c.model for c in second.ran] == ["test-exploding"]
    assert [c.model for c in second.skipped] == ["test-tiny"]
    forced = run_suite(spec, cells, force=True)
    assert len(forced.ran) == 2
    assert len(read_records(spec.output)) == 5


def test_a_torn_last_line_is_ignored_and_never_corrupts_earlier_records(tmp_path):
    append_record(tmp_path, {"cell_key": "a", "status": "ok"})
    with open(writer_file(tmp_path / WRITERS_DIR), "a") as fh:
        fh.write('{"cell_key": "b", "sta')  # a write torn mid-line
    assert read_records(tmp_path) == [{"cell_key": "a", "status": "ok"}]
    append_record(tmp_path, {"cell_key": "c", "status": "ok"})
    assert [r["cell_key"] for r in read_records(tmp_path)] == ["a", "c"]


def _wait_for_records(store, count: int, proc, timeout: float = 240) -> None:
    def appeared() -> bool:
        if len(read_records(store)) >= count:
            return True
        assert proc.poll() is None, proc.communicate()
        return False

    wait_until(appeared, timeout, f"{count} record(s) in {store}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_mid_suite_then_rerun_leaves_exactly_one_ok_record_per_cell(tmp_path, cli_inproc):
    path = suite_file(
        tmp_path,
        '[[models]]\nname = "r3d-18"\nnum_classes = [2, 3, 4, 5]\n',
        measure='["params", "latency_fwd"]',
    )
    store = tmp_path / "out"
    cmd = [sys.executable, "-m", "mtbench", "run", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for_records(store, 1, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_with = len(read_records(tmp_path / "out"))
    assert 1 <= killed_with < 4
    rerun = cli_inproc("run", str(path))  # the kill needs a process of its own; the rerun not
    assert rerun.returncode == 0, rerun.stderr
    records = read_records(tmp_path / "out")
    keys = [r["cell_key"] for r in records]
    assert len(keys) == len(set(keys)) == 4
    assert all(r["status"] == "ok" for r in records)
    assert sorted(r["model_kwargs"]["num_classes"] for r in records) == [2, 3, 4, 5]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_stops_after_the_current_cell(tmp_path):
    path = suite_file(
        tmp_path,
        '[[models]]\nname = "r3d-18"\nnum_classes = [2, 3, 4, 5, 6, 7]\n',
        measure='["params", "latency_fwd"]',
    )
    store = tmp_path / "out"
    cmd = [sys.executable, "-m", "mtbench", "run", str(path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_records(store, 1, proc)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "resume" in out
    records = read_records(tmp_path / "out")
    assert 1 <= len(records) < 6
    assert all(r["status"] == "ok" for r in records)


def test_run_exits_1_naming_failed_cells(tmp_path, cli_inproc):
    path = suite_file(tmp_path, '[[models]]\nname = "test-exploding"\n')
    result = cli_inproc("run", str(path))
    assert result.returncode == 1
    assert "failed cell 0 test-exploding: RuntimeError: boom in forward" in " ".join(
        result.stdout.split()
    )


def test_dry_run_lists_cells_and_measures_nothing(tmp_path, cli_inproc):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\nwidth = [2, 3, 5]\n')
    result = cli_inproc("run", str(path), "--dry-run")
    assert result.returncode == 0
    assert "3 cells" in result.stdout
    assert not read_records(tmp_path / "out")


def test_shard_and_merge_reassemble_the_suite(tmp_path, cli_inproc):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\nwidth = [2, 3, 5]\n')
    logs = []
    for i in range(2):
        out = tmp_path / f"shard{i}"
        logs.append(cli_inproc("run", str(path), "--shard", f"{i}/2", "--output", str(out)))
        assert logs[-1].returncode == 0, logs[-1].stderr
    # A shard numbers its cells among its own, and says which of the suite's each is.
    assert "cell 1/1 (suite cell #1) test-tiny width=3" in logs[1].stdout, logs[1].stdout
    assert len(read_records(tmp_path / "shard0")) == 2
    assert len(read_records(tmp_path / "shard1")) == 1
    merged = tmp_path / "merged"
    result = cli_inproc(
        "merge", str(tmp_path / "shard0"), str(tmp_path / "shard1"), "-o", str(merged)
    )
    assert result.returncode == 0, result.stderr
    records = read_records(merged)
    assert sorted(r["model_kwargs"]["width"] for r in records) == [2, 3, 5]
    assert (merged / "suite.toml").exists()
    # merging again de-duplicates by cell_key
    cli_inproc("merge", str(merged), str(tmp_path / "shard0"))
    assert len(read_records(merged)) == 3


def test_show_prints_the_store_and_writes_csv(tmp_path, cli_inproc):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\n')
    cli_inproc("run", str(path))
    result = cli_inproc("show", str(tmp_path / "out"), "--csv")
    assert result.returncode == 0 and "test-tiny" in result.stdout
    header = (tmp_path / "out" / "results.csv").read_text().splitlines()[0].split(",")
    assert {"model", "params_total", "gflops", "latency_fwd_ms.median"} <= set(header)


@pytest.mark.parametrize(
    "args,needle",
    [(["--shard", "2/2"], "0 <= I < N"), (["--shard", "x"], "--shard")],
)
def test_bad_shard_is_one_line(tmp_path, cli_inproc, args, needle):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\n')
    assert_one_line_error(cli_inproc("run", str(path), *args), needle)


def test_show_and_merge_without_stores_are_one_line(tmp_path, cli_inproc):
    assert_one_line_error(cli_inproc("show", str(tmp_path)), "no results.jsonl")
    assert_one_line_error(cli_inproc("merge", str(tmp_path)), "no results.jsonl")


def test_records_are_valid_json_lines(tmp_path):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\n')
    spec = parse_suite(path)
    run_suite(spec, expand(spec))
    lines = [line for path in store_files(spec.output) for line in path.read_text().splitlines()]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert set(MEASUREMENT_KEYS) <= set(record)
    assert record["status"] == "ok" and record["error"] is None
    assert (record["suite"], record["label"], record["model"]) == ("s", "test-tiny", "test-tiny")
    assert record["cell_key"] == expand(spec)[0].key
    # test-tiny: Conv3d(3, 4, 3) with bias + Linear(4, 10) = 3*4*27 + 4 + 4*10 + 10 weights.
    assert record["params_total"] == record["params_trainable"] == 378
    # The conv's multiply-adds at 4x16x16 (padding keeps the size) plus the linear's.
    assert record["gflops"] * 1e9 >= 4 * 4 * 16 * 16 * 3 * 27 + 40
    assert record["latency_fwd_ms"]["repeats"] == 2 and record["latency_fwd_ms"]["median"] > 0
    assert record["latency_fwdbwd_ms"] is None


def test_a_cells_collection_walks_only_what_the_suite_made(tmp_path, monkeypatch):
    """The objects alive before the suite (torch's, the test process's: 0.6 s a full
    collection in a test worker) are frozen while its cells run, so the collection after each
    cell and before each memory reading walks only the cells' own; a cycle a cell makes is
    still collected; afterwards nothing stays frozen."""
    import gc
    import weakref

    from mtbench.suite import runner

    class Node:
        pass

    made, frozen_at_collection = [], []
    real_profile, real_collect = runner.profile, gc.collect

    def profile(*args, **kwargs):
        node = Node()
        node.me = node  # garbage once the cell is done, freed only by a collection
        made.append(weakref.ref(node))
        return real_profile(*args, **kwargs)

    def collect(*args):
        frozen_at_collection.append(gc.get_freeze_count())
        return real_collect(*args)

    monkeypatch.setattr(runner, "profile", profile)
    monkeypatch.setattr(gc, "collect", collect)
    assert gc.get_freeze_count() == 0
    spec = parse_suite(suite_file(tmp_path, '[[models]]\nname = "test-tiny"\nwidth = [2, 3]\n'))
    run_suite(spec, expand(spec))
    assert [r["status"] for r in read_records(spec.output)] == ["ok", "ok"]
    # one after each cell (and one before each memory reading, where memory is measured)
    assert len(frozen_at_collection) == 2 and min(frozen_at_collection) > 10_000
    assert [ref() for ref in made] == [None, None]
    assert gc.get_freeze_count() == 0
