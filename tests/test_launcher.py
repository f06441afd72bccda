"""`--launcher slurm` against stand-in sbatch / squeue / scancel scripts: what is submitted
(job arrays, packing, resources, DDP ranks), what a re-run leaves alone, `mtbench status`,
and bad input as one line with nothing submitted."""

import json
import os
import stat
import textwrap

import pytest
from conftest import assert_one_line_error
from suite_files import suite_file
from train_suite import SUITE

from mtbench.launch.jobs import submissions
from mtbench.launch.settings import time_minutes
from mtbench.suite.grid import load_suite
from mtbench.suite.store import append_record

FAKES = {
    "sbatch": """n=$(cat "$FAKE_SLURM/next" 2>/dev/null || echo 42)
cp "$1" "$FAKE_SLURM/sbatch-$n.sh"
if [ -f "$FAKE_SLURM/reject" ]; then cat "$FAKE_SLURM/reject" >&2; exit 1; fi
echo $((n + 1)) > "$FAKE_SLURM/next"
echo "Submitted batch job $n"
""",
    "srun": "exit 0\n",
    "squeue": '[ -f "$FAKE_SLURM/squeue-down" ] && exit 1; cat "$FAKE_SLURM/squeue" 2>/dev/null\n',
    "sacct": 'echo "Slurm accounting storage is disabled" >&2; exit 1\n',
    "scancel": 'echo "$@" >> "$FAKE_SLURM/scancel"\n',
}


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """A folder of stand-in SLURM commands first on PATH; returns the folder they log to."""
    bin_dir, log = tmp_path / "bin", tmp_path / "slurm-log"
    bin_dir.mkdir()
    log.mkdir()
    for name, body in FAKES.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM", str(log))
    return log


def measure_suite(tmp_path, launcher: str, device: str = "auto"):
    path = suite_file(tmp_path, '[[models]]\nname = "test-tiny"\nwidth = [2, 3, 5]\n')
    text = path.read_text().replace('device = "cpu"', f'device = "{device}"')
    path.write_text(text + "\n[launcher]\n" + textwrap.dedent(launcher))
    return path


def scripts(log):
    return sorted(log.glob("sbatch-*.sh"))


def test_measure_cells_pack_into_one_array_and_a_rerun_submits_nothing_queued(
    tmp_path, fake_slurm, cli_inproc
):
    launcher = 'name = "slurm"\npartition = "gpu"\ngpus = 1\ncells_per_task = 2\ntime = "1:30"\n'
    path = measure_suite(tmp_path, launcher)
    out = tmp_path / "out"
    result = cli_inproc("run", str(path))
    assert result.returncode == 0, result.stderr
    (script,) = scripts(fake_slurm)
    flags = set(script.read_text().splitlines())
    expected = {"--array=0-1%2", "--partition=gpu", "--gpus-per-node=1", "--time=90"}
    assert {f"#SBATCH {f}" for f in expected | {"--ntasks-per-node=1", "--nodes=1"}} <= flags
    jobs = {k: s["job_id"] for k, s in submissions(out).items()}
    _, cells = load_suite(path)
    assert [jobs[c.key] for c in cells] == ["42_0", "42_0", "42_1"]

    # squeue not answering: nothing is submitted rather than a cell twice
    (fake_slurm / "squeue-down").touch()
    assert_one_line_error(cli_inproc("run", str(path)), "squeue did not answer")
    (fake_slurm / "squeue-down").unlink()
    assert len(scripts(fake_slurm)) == 1

    # queued: a re-run submits nothing
    (fake_slurm / "squeue").write_text("42_0|RUNNING\n42_1|PENDING\n")
    result = cli_inproc("run", str(path))
    assert result.returncode == 0 and "nothing to submit" in result.stdout
    assert len(scripts(fake_slurm)) == 1

    # ended: the measured cell stays, the two without a record go again, in one task
    (fake_slurm / "squeue").write_text("")
    append_record(out, {"cell_key": cells[0].key, "status": "ok", "finished_at": "9"})
    assert cli_inproc("run", str(path)).returncode == 0
    assert len(scripts(fake_slurm)) == 2 and "--array" not in scripts(fake_slurm)[1].read_text()
    jobs = {k: s["job_id"] for k, s in submissions(out).items()}
    assert [jobs[c.key] for c in cells] == ["42_0", "43", "43"]

    (fake_slurm / "squeue").write_text("43|PENDING\n")
    result = cli_inproc("status", str(out), "--json")
    status = json.loads(result.stdout)
    assert [c["state"] for c in status["cells"]] == ["done", "submitted", "submitted"]
    assert status["cells"][1]["slurm_state"] == "PENDING"
    assert status["summary"] == "3 cells: 1 done, 0 failed, 2 submitted (2 PENDING), 0 not started"


def test_a_ddp_training_cell_gets_its_ranks_and_gpus_as_one_task(tmp_path, fake_slurm, cli_inproc):
    path = tmp_path / "t.toml"
    text = SUITE.format(workers=0).replace('device = "cpu"', 'device = "auto"')
    launcher = "[launcher]\nnodes = 2\nnproc_per_node = 4\ngpus = 1\nmem_gb = 8\ncpus = 6\n"
    path.write_text(text.replace("[[models]]", launcher + "\n[[models]]"))
    result = cli_inproc("run", str(path), "--output", str(tmp_path / "o"), "--launcher", "slurm")
    assert result.returncode == 0, result.stderr
    (script,) = scripts(fake_slurm)
    flags = set(script.read_text().splitlines())
    expected = ["--nodes=2", "--ntasks-per-node=4", "--gpus-per-node=4", "--mem=32768M"]
    assert {f"#SBATCH {f}" for f in [*expected, "--cpus-per-task=6"]} <= flags


def test_a_failed_record_is_status_failed_with_its_reason(tmp_path, cli_inproc):
    path = measure_suite(tmp_path, 'name = "local"\n', device="cpu")
    _, cells = load_suite(path)
    append_record(tmp_path / "out", {"cell_key": cells[1].key, "status": "failed", "error": "OOM"})
    (tmp_path / "out" / "suite.toml").write_text(path.read_text())
    result = cli_inproc("status", str(tmp_path / "out"))
    assert result.returncode == 0
    assert "3 cells: 0 done, 1 failed, 0 submitted, 2 not started" in result.stdout
    assert "OOM" in result.stdout


def test_status_of_a_suite_file_reads_its_imports_from_its_folder(
    tmp_path, cli_inproc, monkeypatch
):
    """`status SUITE` expands the suite as `run` does (imports beside the suite, the store its
    output folder, from the working directory): from another folder it lists the cells not
    started, which the store's copy of the suite cannot (its imports are not beside it)."""
    from plugin_files import write_plugins

    from mtbench.suite.runner import copy_suite

    (tmp_path / "suite").mkdir()
    write_plugins(tmp_path / "suite", "tiny-status")
    path = tmp_path / "suite" / "s.toml"
    path.write_text(
        '[suite]\nname = "s"\nimports = ["tinyvid.py"]\n[defaults]\nmeasure = ["params"]\n'
        'input = [1, 3, 4, 16, 16]\n[[models]]\nname = "tiny-status"\nwidth = [2, 3]\n'
    )
    spec, cells = load_suite(path)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    copy_suite(spec)  # as run leaves it: reports/s/suite.toml
    append_record(spec.output, {"cell_key": cells[0].key, "status": "ok", "label": "first"})

    result = cli_inproc("status", "../suite/s.toml", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)["cells"]
    assert [(c["cell_key"], c["state"]) for c in found] == [
        (cells[0].key, "done"),
        (cells[1].key, "not started"),
    ]
    assert [c["label"] for c in found] == [c.label for c in cells]

    store = cli_inproc("status", "reports/s", "--json")
    assert store.returncode == 0 and json.loads(store.stdout)["summary"].startswith("1 cells:")
    assert "cannot import 'tinyvid.py'" in store.stderr and "mtbench status SUITE" in store.stderr


@pytest.mark.parametrize(
    "launcher,args,needles",
    [
        ('partiton = "gpu"', [], ["launcher.partiton", "did you mean 'partition'"]),
        ("", ["--launcher-opt", "gpu=1"], ["--launcher-opt gpu", "did you mean 'gpus'"]),
        ("", ["--launcher-opt", "time=4h"], ["--launcher-opt time", "HH:MM"]),
        ("", ["--launcher", "pbs"], ["--launcher", "local, slurm"]),
        ("gpus = 1", [], ["launcher.gpus = 1", "runs on device cpu"]),
    ],
)
def test_bad_launcher_input_is_one_line_and_submits_nothing(
    tmp_path, fake_slurm, cli_inproc, launcher, args, needles
):
    path = measure_suite(tmp_path, f'name = "slurm"\n{launcher}\n', device="cpu")
    assert_one_line_error(cli_inproc("run", str(path), *args), *needles)
    assert not scripts(fake_slurm)


def test_sbatch_rejecting_the_array_is_its_message_in_one_line(tmp_path, fake_slurm, cli_inproc):
    (fake_slurm / "reject").write_text(
        "sbatch: error: Batch job submission failed: Invalid partition name specified\n"
    )
    path = measure_suite(tmp_path, 'name = "slurm"\npartition = "nope"\n')
    result = cli_inproc("run", str(path))
    assert_one_line_error(result, "SLURM rejected", "Invalid partition name specified")
    assert submissions(tmp_path / "out") == {}


def test_no_sbatch_on_path_or_no_submitit_is_one_line(tmp_path, cli_inproc, monkeypatch):
    path = measure_suite(tmp_path, 'name = "slurm"\n')
    monkeypatch.setenv("PATH", str(tmp_path))
    assert_one_line_error(cli_inproc("run", str(path)), "no sbatch", "--shard")
    real = __import__("importlib").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *a: None if name == "submitit" else real(name, *a)
    )
    assert_one_line_error(cli_inproc("run", str(path)), "pip install 'mtbench[slurm]'")


@pytest.mark.parametrize(
    "value,minutes", [(90, 90), ("04:00:00", 240), ("1-00:00", 1440), ("0:30:10", 31), ("4h", None)]
)
def test_time_limits_read_as_slurm_writes_them(value, minutes):
    assert time_minutes(value) == minutes


def test_a_ddp_rank_gets_torchruns_variables_from_slurms(monkeypatch):
    slurm = {
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": "77",
        "SLURM_NTASKS": "8",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_PROCID": "5",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NODELIST": "gpu[03-04]",
    }
    for key, value in slurm.items():
        monkeypatch.setenv(key, value)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR"):
        monkeypatch.setenv(key, "")  # restored (removed) after the test, like the others
        monkeypatch.delenv(key)
    monkeypatch.setenv("MASTER_PORT", "29512")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    from mtbench.launch.slurm import export_torch_env

    export_torch_env()
    torchrun = {k: os.environ[k] for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR")}
    assert torchrun == {"RANK": "5", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "gpu03"}
    assert os.environ["LOCAL_WORLD_SIZE"] == "4" and os.environ["MASTER_PORT"] == "29512"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"  # rank 1 takes cuda:1 of these


def test_an_error_raised_while_the_task_is_requeued_is_not_the_cells(tmp_path, monkeypatch):
    """submitit requeues a task from its signal handler, inside the running cell; an error
    raised there (on a real cluster: `scontrol requeue` killed by the SIGTERM the requeue
    itself sends the job) ends the task and stores nothing, so the requeued task runs the
    cell again; the same error outside a requeue is the cell's failure."""
    import subprocess

    pytest.importorskip("submitit")
    from mtbench import preemption
    from mtbench.launch.slurm import CellTask
    from mtbench.suite import runner
    from mtbench.suite.store import read_records

    monkeypatch.setattr(preemption, "_requeuing", False)
    path = measure_suite(tmp_path, 'name = "local"\n', device="cpu")
    spec, cells = load_suite(path)
    spec.output = tmp_path / "out"
    task = CellTask(spec, cells, [], [])
    killed = subprocess.CalledProcessError(-15, ["scontrol", "requeue", "1"])

    def requeued(*args, **kwargs):
        task.checkpoint()  # what submitit calls before it runs `scontrol requeue`
        raise killed

    monkeypatch.setattr(runner, "profile", requeued)
    with pytest.raises(subprocess.CalledProcessError):
        runner.run_cell(spec, cells[0])
    assert not spec.output.exists() or read_records(spec.output) == []

    def failing(*args, **kwargs):
        raise killed

    monkeypatch.setattr(preemption, "_requeuing", False)
    monkeypatch.setattr(runner, "profile", failing)
    record = runner.run_cell(spec, cells[0])
    assert record["status"] == "failed" and "scontrol" in record["error"]
    assert [r["status"] for r in read_records(spec.output)] == ["failed"]
