"""`mtbench run --launcher slurm` against a real SLURM: Debian's slurm-wlm and munge (which
.ci/run installs; this test installs nothing) started as a private one-node cluster on this host
from a generated slurm.conf on free ports (all files in a temporary folder). Afterwards it
cancels only the jobs it submitted and stops only the daemons it started.

The scenario: measure cells packed two to a task plus one cell that fails; one tiny training
cell whose task is signalled with USR2 (SLURM's warning before a time limit or preemption)
while it waits after the checkpoint of epoch HOLD_AT (tests/checkpoint_hold.py), requeued by
submitit, resumed from last.pt. Then the stores: every cell exactly once, the failed one with
its reason, the trained weights equal to a local run's.

Skipped, with the reason, where SLURM cannot be started (not root, slurmctld, slurmd, munged or
SLURM's commands missing, the daemons do not come up).
"""

import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch
from checkpoint_hold import HOLD
from train_suite import SUITE
from waiting import poll_until, wait_for_checkpoint, wait_until

from mtbench.launch.jobs import submissions
from mtbench.suite.store import read_records

TESTS = Path(__file__).parent
# `mtbench` with the tests' models registered (tests/tiny_models.py).
ENTRY = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import tiny_models;"
    " from mtbench.cli import main; main(sys.argv[1:])"
)
DAEMONS = ("munged", "slurmctld", "slurmd")
COMMANDS = ("sbatch", "squeue", "sinfo", "scancel", "scontrol")
EPOCHS = 6  # test_train_resume's SUITE
HOLD_AT = 2  # the training task waits after this epoch's checkpoint for the USR2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _cannot_start() -> str | None:
    """Why SLURM cannot be started here, or None."""
    if os.geteuid() != 0:
        return "starting slurmctld and slurmd as SlurmUser=root needs root"
    missing = [name for name in (*DAEMONS, *COMMANDS) if shutil.which(name) is None]
    if missing:
        return f"{', '.join(missing)} not on PATH (Debian's slurm-wlm and munge; .ci/run installs)"
    return None


def _slurm_conf(root: Path) -> str:
    host = socket.gethostname()
    mem_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    # cred_expire=5: a requeued job may start again after 6 s instead of SLURM's 121.
    return textwrap.dedent(f"""\
        ClusterName=mtbench-test
        SlurmctldHost={host}
        SlurmUser=root
        SlurmdUser=root
        AuthType=auth/munge
        CredType=cred/munge
        AuthInfo=socket={root}/munge.socket,cred_expire=5
        ProctrackType=proctrack/linuxproc
        TaskPlugin=task/none
        SelectType=select/cons_tres
        SelectTypeParameters=CR_Core
        SchedulerType=sched/backfill
        JobAcctGatherType=jobacct_gather/none
        AccountingStorageType=accounting_storage/none
        MpiDefault=none
        ReturnToService=2
        SlurmctldPort={_free_port()}
        SlurmdPort={_free_port()}
        StateSaveLocation={root}/state
        SlurmdSpoolDir={root}/spool
        SlurmctldPidFile={root}/slurmctld.pid
        SlurmdPidFile={root}/slurmd.pid
        SlurmctldLogFile={root}/slurmctld.log
        SlurmdLogFile={root}/slurmd.log
        NodeName={host} CPUs={os.cpu_count()} RealMemory={mem_mb} State=UNKNOWN
        PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
        """)


def _commands(root: Path, conf: Path, key: Path) -> dict[str, list[str]]:
    munged = [
        "munged",
        "-F",
        "--force",
        f"--key-file={key}",
        f"--socket={root}/munge.socket",
        f"--pid-file={root}/munged.pid",
        f"--log-file={root}/munged.log",
        f"--seed-file={root}/munged.seed",
    ]
    slurmctld = ["slurmctld", "-D", "-i", "-f", str(conf)]
    return {"munged": munged, "slurmctld": slurmctld, "slurmd": ["slurmd", "-D", "-f", str(conf)]}


def _up(name: str, root: Path, proc: subprocess.Popen) -> bool:
    """Whether the daemon `name` of this cluster answers (or its process has ended)."""
    if proc.poll() is not None:
        return True
    if name == "munged":
        return (root / "munge.socket").exists()
    if name == "slurmctld":
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True)
        return "is UP" in ping.stdout
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.stdout.strip() == "idle"


def _start(root: Path, conf: Path, key: Path, daemons: list[subprocess.Popen]) -> str | None:
    """Start munged, slurmctld, slurmd in turn, each once the one before answers; why one
    did not come up, or None."""
    for name, command in _commands(root, conf, key).items():
        log = open(root / f"{name}.out", "w")  # noqa: SIM115  (closed when the process ends)
        daemons.append(subprocess.Popen(command, stdout=log, stderr=log))
        log.close()
        proc, out = daemons[-1], root / f"{name}.out"
        if not poll_until(functools.partial(_up, name, root, proc), 60):
            return f"{name} did not answer within 60 s: {out.read_text()[-300:]}"
        if proc.poll() is not None:
            return f"{name} exited {proc.returncode}: {out.read_text()[-300:]}"
    return None


def _stop(daemons: list[subprocess.Popen]) -> None:
    for proc in reversed(daemons):
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cancel(stores: list[Path]) -> None:
    """scancel the jobs this test submitted (as each store's journal names them), no other."""
    ids = sorted({s["job_id"] for store in stores for s in submissions(store).values()})
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True)


@pytest.fixture(scope="module")
def slurm_cluster():
    """A one-node cluster on this host; SLURM_CONF points every client at it. The test appends
    each store it submits to `stores`: their jobs, and only those, are cancelled afterwards."""
    reason = _cannot_start()
    if reason:
        pytest.skip(f"SLURM cannot be started here: {reason}")
    root = Path(tempfile.mkdtemp(prefix="mtbench-slurm-"))
    root.chmod(0o711)  # munged refuses a socket folder others may write to
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(_slurm_conf(root))
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    daemons: list[subprocess.Popen] = []
    stores: list[Path] = []
    try:
        reason = _start(root, conf, key, daemons)
        if reason:
            pytest.skip(f"SLURM did not come up: {reason}")
        yield stores
    finally:
        _cancel(stores)
        _stop(daemons)
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        shutil.rmtree(root, ignore_errors=True)


def mtbench(*args: str, cwd: Path, hold: bool = False) -> subprocess.CompletedProcess:
    """`mtbench ARGS`; with `hold`, the jobs it submits (sbatch exports the environment) hold
    their training after epoch HOLD_AT."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same threads locally and in SLURM
    if hold:
        env[HOLD] = str(HOLD_AT)
    cmd = [sys.executable, "-c", ENTRY, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=cwd, env=env)


MEASURE = """
[suite]
name = "measure"
[defaults]
device = "cpu"
input = [1, 3, 4, 16, 16]
measure = ["params", "flops"]
[launcher]
cells_per_task = 2
time = 5
[[models]]
name = "test-tiny3d"
width = [4, 8]
[[models]]
name = "test-exploding"
"""


def _jobs_left(folders: list[Path]) -> bool:
    ids = {s["job_id"] for f in folders for s in submissions(f).values()}
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return bool(ids & set(out.stdout.split()))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_suite_through_slurm_requeues_a_signalled_training_cell_and_stores_each_cell_once(
    slurm_cluster, tmp_path
):
    start = time.monotonic()
    train = tmp_path / "train.toml"
    train.write_text(textwrap.dedent(SUITE.format(workers=0)))
    (tmp_path / "measure.toml").write_text(MEASURE)
    measured, trained, local = tmp_path / "m", tmp_path / "t", tmp_path / "local"
    slurm_cluster.extend([measured, trained, tmp_path / "bad"])  # their jobs are ours to cancel
    for suite, out in (("train.toml", trained), ("measure.toml", measured)):
        result = mtbench(
            "run",
            suite,
            "--output",
            str(out),
            "--launcher",
            "slurm",
            cwd=tmp_path,
            hold=out == trained,
        )
        assert result.returncode == 0, result.stderr
    # the same training locally, meanwhile, for the weights to compare with
    reference = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "run", str(train), "--output", str(local)],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )

    (job,) = {s["job_id"] for s in submissions(trained).values()}
    ckpt = wait_for_checkpoint("cells/*/last.pt", trained, HOLD_AT, timeout=150)
    subprocess.run(["scancel", "--signal=USR2", job], check=True)

    wait_until(lambda: not _jobs_left([measured, trained]), 200, "the SLURM jobs to finish")
    assert reference.wait(timeout=120) == 0, reference.stderr.read()

    log = "".join(p.read_text() for p in (trained / "slurm").glob(f"{job}_0_log.*"))
    # SLURM's own line that it requeued the job: submitit's "Requeued job" line is lost
    # where the requeue's SIGTERM kills `scontrol requeue` before it returns (mtbench.preemption)
    assert "Caught signal SIGUSR2" in log and f"JOB {job} ON" in log and "JOB REQUEUE" in log
    assert log.count("Starting with JobEnvironment") == 2  # the requeued task ran again
    (record,) = read_records(trained)
    assert record["status"] == "ok" and record["epochs"] == EPOCHS
    epochs = (ckpt.parent / "train_log.jsonl").read_text().splitlines()
    assert len(epochs) == EPOCHS  # the interrupted epoch left no duplicate line
    a = torch.load(ckpt, weights_only=False)["model"]
    b = torch.load(next(local.glob("cells/*/last.pt")), weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)

    records = read_records(measured)
    assert len({r["cell_key"] for r in records}) == len(records) == 3
    by_model = {(r["model"], r["model_kwargs"].get("width")): r for r in records}
    assert by_model[("test-exploding", None)]["status"] == "failed"
    assert "boom in forward" in by_model[("test-exploding", None)]["error"]
    assert [by_model[("test-tiny3d", w)]["status"] for w in (4, 8)] == ["ok", "ok"]
    assert len({s["job_id"] for s in submissions(measured).values()}) == 2  # two cells a task

    status = mtbench("status", str(measured), cwd=tmp_path)
    assert "3 cells: 2 done, 1 failed, 0 submitted, 0 not started" in status.stdout
    before = {k: s["job_id"] for k, s in submissions(measured).items()}
    again = mtbench(
        "run", "measure.toml", "--output", str(measured), "--launcher", "slurm", cwd=tmp_path
    )
    assert again.returncode == 0, again.stderr
    after = {k: s["job_id"] for k, s in submissions(measured).items()}
    changed = [k for k in after if after[k] != before[k]]
    assert changed == [by_model[("test-exploding", None)]["cell_key"]]  # only the failed cell

    bad = mtbench(
        "run",
        "measure.toml",
        "--output",
        str(tmp_path / "bad"),
        "--launcher",
        "slurm",
        "--launcher-opt",
        "partition=nope",
        cwd=tmp_path,
    )
    errors = [line for line in bad.stderr.splitlines() if "error" in line]
    assert bad.returncode == 2 and len(errors) == 1 and "Invalid partition" in errors[0]
    assert "Traceback" not in bad.stderr and submissions(tmp_path / "bad") == {}
    assert time.monotonic() - start < 300
