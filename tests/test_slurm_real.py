"""`mtbench run --launcher slurm` against a real SLURM: Debian's slurm-wlm and munge,
installed with apt-get, started as a one-node cluster on this host from a generated
slurm.conf (all files in a temporary folder), stopped and removed afterwards.

The scenario: measure cells packed two to a task plus one cell that fails; one tiny training
cell whose task is signalled with USR2 (SLURM's warning before a time limit or preemption)
mid-training, requeued by submitit, resumed from last.pt. Then the stores: every cell
exactly once, the failed one with its reason, the trained weights equal to a local run's.

Skipped, with the reason, where SLURM cannot be started (not root, no apt-get, apt fails,
the daemons do not come up).
"""

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
from test_train_resume import SUITE

from mtbench.launch.jobs import submissions
from mtbench.suite.store import read_records

TESTS = Path(__file__).parent
# `mtbench` with the tests' models registered: test-tiny3d, test-exploding.
ENTRY = (
    f"import sys; sys.path.insert(0, {str(TESTS)!r}); import tiny_models, test_suite_runner;"
    " from mtbench.cli import main; main(sys.argv[1:])"
)
DAEMONS = ("munged", "slurmctld", "slurmd")
# About half a second an epoch on an idle core: 30 leave the signal seconds to arrive mid-run
# (with 8, an idle machine finished training before scancel's signal reached the task).
EPOCHS = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _install() -> str | None:
    """apt-get slurm-wlm and munge; the reason it failed, or None."""
    if os.geteuid() != 0:
        return "installing and starting SLURM needs root"
    if shutil.which("apt-get") is None:
        return "no apt-get to install slurm-wlm and munge with"
    if all(shutil.which(d) for d in (*DAEMONS, "sbatch")):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm"]):
        done = subprocess.run(cmd + (["munge"] if "install" in cmd else []), env=env,
                              capture_output=True, text=True, timeout=240)  # fmt: skip
        if done.returncode != 0:
            return f"{' '.join(cmd)} failed: {done.stderr.strip()[-300:]}"
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


@pytest.fixture(scope="module")
def slurm_cluster():
    """A one-node cluster on this host; SLURM_CONF points every client at it."""
    reason = _install()
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
    logs = {d: open(root / f"{d}.out", "w") for d in DAEMONS}  # noqa: SIM115
    commands = {
        "munged": ["munged", "-F", "--force", f"--key-file={key}", f"--socket={root}/munge.socket",
                   f"--pid-file={root}/munged.pid", f"--log-file={root}/munged.log",
                   f"--seed-file={root}/munged.seed"],
        "slurmctld": ["slurmctld", "-D", "-i", "-f", str(conf)],
        "slurmd": ["slurmd", "-D", "-f", str(conf)],
    }  # fmt: skip
    daemons = []
    try:
        for name in DAEMONS:
            daemons.append(subprocess.Popen(commands[name], stdout=logs[name], stderr=logs[name]))
            time.sleep(1)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline and state not in ("idle", "mixed", "allocated"):
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
            state = out.stdout.strip()
            time.sleep(1)
        if state != "idle":
            tails = {d: (root / f"{d}.out").read_text()[-300:] for d in DAEMONS}
            pytest.skip(f"SLURM did not come up (node state {state!r}): {tails}")
        yield root
    finally:
        subprocess.run(["scancel", "--user=root"], capture_output=True)
        for proc in reversed(daemons):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs.values():
            log.close()
        if previous is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = previous
        shutil.rmtree(root, ignore_errors=True)


def mtbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same threads locally and in SLURM
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


# test_train_resume's suite on larger clips, so that an epoch takes long enough to interrupt.
LARGER = {
    "epochs = 6": f"epochs = {EPOCHS}",
    "videos_per_class = 16": "videos_per_class = 32",
    "source_frames = 12": "source_frames = 24",
    "source_size = [24, 24]": "source_size = [40, 40]",
    "frames = 4": "frames = 8",
    "resize = [18, 22]": "resize = [32, 36]",
    "crop = 16": "crop = 32",
    'name = "test-tiny3d"': 'name = "test-tiny3d"\nwidth = 16',
}


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _jobs_left(folders: list[Path]) -> bool:
    ids = {s["job_id"] for f in folders for s in submissions(f).values()}
    out = subprocess.run(["squeue", "-h", "-r", "-o", "%i"], capture_output=True, text=True)
    return bool(ids & set(out.stdout.split()))


def test_a_suite_through_slurm_requeues_a_signalled_training_cell_and_stores_each_cell_once(
    slurm_cluster, tmp_path
):
    start = time.monotonic()
    text = textwrap.dedent(SUITE.format(workers=0))
    for old, new in LARGER.items():
        text = text.replace(old, new)
    train = tmp_path / "train.toml"
    train.write_text(text)
    (tmp_path / "measure.toml").write_text(MEASURE)
    measured, trained, local = tmp_path / "m", tmp_path / "t", tmp_path / "local"
    for suite, out in (("train.toml", trained), ("measure.toml", measured)):
        result = mtbench("run", suite, "--output", str(out), "--launcher", "slurm", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    # the same training locally, meanwhile, for the weights to compare with
    reference = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "run", str(train), "--output", str(local)],
        cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    (job,) = {s["job_id"] for s in submissions(trained).values()}
    _wait(lambda: list(trained.glob("cells/*/last.pt")), 150, "the first training checkpoint")
    subprocess.run(["scancel", "--signal=USR2", job], check=True)
    (ckpt,) = trained.glob("cells/*/last.pt")
    at_signal = torch.load(ckpt, weights_only=False)["epoch"]
    assert at_signal < EPOCHS, "training finished before the signal could interrupt it"

    _wait(lambda: not _jobs_left([measured, trained]), 200, "the SLURM jobs to finish")
    assert reference.wait(timeout=120) == 0, reference.stderr.read()

    log = "".join(p.read_text() for p in (trained / "slurm").glob(f"{job}_0_log.*"))
    assert "Caught signal SIGUSR2" in log and f"Requeued job {job}" in log
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
    again = mtbench("run", "measure.toml", "--output", str(measured), "--launcher", "slurm",
                    cwd=tmp_path)  # fmt: skip
    assert again.returncode == 0, again.stderr
    after = {k: s["job_id"] for k, s in submissions(measured).items()}
    changed = [k for k in after if after[k] != before[k]]
    assert changed == [by_model[("test-exploding", None)]["cell_key"]]  # only the failed cell

    bad = mtbench("run", "measure.toml", "--output", str(tmp_path / "bad"), "--launcher",
                  "slurm", "--launcher-opt", "partition=nope", cwd=tmp_path)  # fmt: skip
    errors = [line for line in bad.stderr.splitlines() if "error" in line]
    assert bad.returncode == 2 and len(errors) == 1 and "Invalid partition" in errors[0]
    assert "Traceback" not in bad.stderr and submissions(tmp_path / "bad") == {}
    assert time.monotonic() - start < 300
