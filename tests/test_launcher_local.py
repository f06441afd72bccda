"""The SLURM launcher's tasks run by submitit's local executor (subprocesses with submitit's
job environment, no SLURM): a DDP training cell of two ranks joins one process group through
the task's SLURM-to-torchrun mapping and writes one record; a task signalled with USR2 is
requeued and resumes its training cell to the weights of an uninterrupted run."""

import os
import signal
import textwrap
from pathlib import Path

import pytest
import submitit
import torch
from checkpoint_hold import HOLD
from train_suite import SUITE
from waiting import wait_for_checkpoint

from mtbench.launch.settings import launcher_settings
from mtbench.launch.slurm import plan
from mtbench.suite.grid import load_suite
from mtbench.suite.runner import run_suite
from mtbench.suite.store import read_records


def training_suite(tmp_path: Path, launcher: str, epochs: int):
    text = textwrap.dedent(SUITE.format(workers=0)).replace("epochs = 6", f"epochs = {epochs}")
    path = tmp_path / "s.toml"
    path.write_text(text.replace("[[models]]", f"[launcher]\n{launcher}\n\n[[models]]"))
    spec, cells = load_suite(path)
    spec.output = tmp_path / "out"
    return spec, cells


def local_executor(folder: Path, group) -> submitit.LocalExecutor:
    executor = submitit.LocalExecutor(folder)
    executor.update_parameters(timeout_min=5, tasks_per_node=group.parameters["ntasks_per_node"])
    return executor


@pytest.mark.slow
def test_a_ddp_cell_trains_on_two_ranks_and_writes_one_record(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec, cells = training_suite(tmp_path, "nproc_per_node = 2", epochs=2)
    (group,) = plan(spec, cells, launcher_settings(spec.launcher))
    job = local_executor(tmp_path / "logs", group).submit(group.tasks[0])
    assert job.results() == [[cells[0].key]] * 2  # both ranks ran the cell
    (record,) = read_records(spec.output)
    assert record["status"] == "ok" and record["world_size"] == 2
    assert record["num_test_scored"] == record["num_test_videos"] == 6  # each video once


def _task_pid(controller: int) -> int | None:
    """The task process that submitit's local controller started."""
    children = Path(f"/proc/{controller}/task/{controller}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else None


@pytest.mark.slow
def test_a_signalled_task_is_requeued_and_resumes_to_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec, cells = training_suite(tmp_path, "", epochs=6)
    (group,) = plan(spec, cells, launcher_settings(spec.launcher))
    monkeypatch.setenv(HOLD, "2")  # the task waits after epoch 2 (requeued, it resumes past it)
    job = local_executor(tmp_path / "logs", group).submit(group.tasks[0])
    monkeypatch.delenv(HOLD)  # the reference run below, in this process, is not held
    ckpt = wait_for_checkpoint(f"cells/{cells[0].key}/last.pt", spec.output, 2, timeout=120)
    os.kill(_task_pid(job._process.pid), signal.SIGUSR2)
    assert job.result() == [cells[0].key]
    assert "Requeued job" in Path(job.paths.stdout).read_text()

    reference = tmp_path / "reference"
    spec.output = reference
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_suite(spec, cells)
    finally:
        torch.set_num_threads(threads)
    a = torch.load(ckpt, weights_only=False)["model"]
    b = torch.load(reference / "cells" / cells[0].key / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len(read_records(tmp_path / "out")) == 1


@pytest.mark.slow
def test_a_task_builds_user_models_from_a_suite_import_a_callable_and_a_hub(tmp_path):
    """A task is a fresh process: it imports the suite's files and resolves names again."""
    from plugin_files import write_plugins

    write_plugins(tmp_path, "tiny-task")
    path = tmp_path / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\nimports = ["tinyvid.py"]\n[defaults]\nmeasure = ["params"]\n'
        "input = [1, 3, 4, 16, 16]\n[launcher]\ncells_per_task = 3\n[[models]]\nname = "
        '["tiny-task", "tinyvid:build_tiny_vid", "hub:hubrepo:tiny_vid"]\n'
    )
    spec, cells = load_suite(path)
    spec.output = tmp_path / "out"
    (group,) = plan(spec, cells, launcher_settings(spec.launcher))
    executor = submitit.LocalExecutor(tmp_path / "logs")
    executor.update_parameters(timeout_min=5)
    assert executor.submit(group.tasks[0]).results() == [[c.key for c in cells]]
    records = read_records(spec.output)
    assert [r["status"] for r in records] == ["ok"] * 3, [r["error"] for r in records]
    assert [r["provenance"]["origin"] for r in records] == ["import", "callable", "hub"]
