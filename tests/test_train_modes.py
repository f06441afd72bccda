"""Training modes: multigrid shapes on the documented schedule, fine-tuning (new head, frozen
parts), a NaN loss failing only its cell, and DDP through torchrun with 2 CPU processes."""

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import tiny_models
import torch
from checkpoint_hold import HOLD
from torch import nn
from train_suite import ENTRY, SUITE
from waiting import wait_for_checkpoint

from mtbench.registry import register_model
from mtbench.suite.store import read_records
from mtbench.train.schedule import long_cycle

SEEN: list[tuple[int, ...]] = []


class ShapeRecorder(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.net = tiny_models.tiny3d(num_classes)

    def forward(self, x):
        if self.training:
            SEEN.append(tuple(x.shape))
        return self.net(x)


@register_model("test-shape-recorder", family="test")
def shape_recorder(num_classes: int = 10) -> nn.Module:
    """test-tiny3d that notes the shape of every training batch."""
    return ShapeRecorder(num_classes)


@register_model("test-nan", family="test")
def nan_model(num_classes: int = 10) -> nn.Module:
    """Its logits are NaN: training must stop with a one-line error."""
    return _Nan(num_classes)


class _Nan(nn.Module):
    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(3, num_classes)

    def forward(self, x):
        return self.head(x.mean(dim=(2, 3, 4))) * float("nan")


def suite(tmp_path: Path, body: str, **replace: str) -> Path:
    text = SUITE.format(workers=0)
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text.split("[[models]]")[0] + body))
    return path


def run_inproc(path: Path, out: Path) -> int:
    from mtbench.cli import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        main(["run", str(path), "--output", str(out)])
    except SystemExit as exc:
        return exc.code or 0
    finally:
        torch.set_num_threads(threads)
    return 0


@pytest.mark.slow
def test_multigrid_trains_on_the_documented_shapes(tmp_path):
    body = "[[models]]\nname = 'test-shape-recorder'\n"
    path = suite(
        tmp_path,
        body,
        **{
            "frames = 4": "frames = 8",
            "crop = 16": "crop = 32",
            "resize = [18, 22]": "resize = [32, 36]",
            "epochs = 6": "epochs = 4\nmultigrid = true",
            "lr_steps = [4]": "lr_steps = []",
        },
    )
    SEEN.clear()
    assert run_inproc(path, tmp_path / "out") == 0
    (record,) = read_records(tmp_path / "out")
    assert record["status"] == "ok", record["error"]
    phases = long_cycle(record["workload"]["train"], 8, 32)
    assert [(p.frames, p.crop, p.batch_size) for p in phases] == [
        (2, 24, 32),
        (4, 24, 16),
        (4, 32, 8),
        (8, 32, 4),
    ]
    per_epoch = [48 // p.batch_size for p in phases]  # full batches of 48 training videos
    expected = [
        (p.batch_size, 3, p.frames, p.crop, p.crop)
        for p, n in zip(phases, per_epoch, strict=True)
        for _ in range(n)
    ]
    assert SEEN == expected


@pytest.mark.slow
def test_finetuning_replaces_the_head_and_leaves_frozen_parts_untrained(tmp_path):
    base = suite(tmp_path, "[[models]]\nname = 'test-tiny3d'\n", **{"epochs = 6": "epochs = 1"})
    assert run_inproc(base, tmp_path / "base") == 0
    (source,) = (tmp_path / "base").glob("cells/*/last.pt")
    pretrained = torch.load(source, weights_only=False)["model"]

    body = (
        f"[[models]]\nname = 'test-tiny3d'\ntrain.init_from = '{source}'\n"
        "train.freeze = ['0', '1']\n"
    )
    tuned = suite(
        tmp_path, body, **{"num_classes = 3": "num_classes = 4", "epochs = 6": "epochs = 1"}
    )
    assert run_inproc(tuned, tmp_path / "tuned") == 0
    (record,) = read_records(tmp_path / "tuned")
    assert record["status"] == "ok", record["error"]
    (target,) = (tmp_path / "tuned").glob("cells/*/last.pt")
    after = torch.load(target, weights_only=False)["model"]
    assert after["10.weight"].shape == (4, 16)  # a new 4-class head
    for key in ("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        assert torch.equal(after[key], pretrained[key]), key  # frozen, BN statistics too
    assert not torch.equal(after["4.weight"], pretrained["4.weight"])  # trained from the init
    assert record["params_trainable"] is not None


def test_init_from_a_checkpoint_that_does_not_fit_fails_the_cell_in_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"model": {"conv.weight": torch.zeros(1)}}, bad)
    body = f"[[models]]\nname = 'test-tiny3d'\ntrain.init_from = '{bad}'\n"
    path = suite(tmp_path, body, **{"epochs = 6": "epochs = 1"})
    assert run_inproc(path, tmp_path / "out") == 1
    (record,) = read_records(tmp_path / "out")
    assert record["status"] == "failed"
    assert "does not fit the model: missing keys" in record["error"]


def test_a_nan_loss_fails_its_cell_and_the_suite_goes_on(tmp_path):
    body = "[[models]]\nname = 'test-nan'\n[[models]]\nname = 'test-tiny3d'\n"
    path = suite(tmp_path, body, **{"epochs = 6": "epochs = 1"})
    assert run_inproc(path, tmp_path / "out") == 1
    nan, ok = read_records(tmp_path / "out")
    assert nan["status"] == "failed" and nan["error"].startswith("TrainingError: loss is nan")
    assert ok["status"] == "ok"


def torchrun(path: Path, out: Path) -> list[str]:
    """`mtbench run PATH` on 2 CPU processes through torchrun, test models registered."""
    return [
        *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"),
        *(ENTRY, "run", str(path), "--output", str(out)),
    ]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> tuple[Path, Path]:
    """One uninterrupted DDP training (6 epochs, 9 test videos: odd, so no padding), shared by
    the record test and as the resume test's reference: (suite, store)."""
    folder = tmp_path_factory.mktemp("ddp")
    more_videos = {"test_videos_per_class = 2": "test_videos_per_class = 3"}
    path = suite(folder, "[[models]]\nname = 'test-tiny3d'\n", **more_videos)
    result = subprocess.run(
        torchrun(path, folder / "a"), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return path, folder / "a"


@pytest.mark.slow
@pytest.mark.xdist_group("ddp")
def test_ddp_with_two_cpu_processes_writes_one_record_and_scores_every_video(ddp_run):
    _, out = ddp_run
    (record,) = read_records(out)
    assert record["status"] == "ok", record["error"]
    assert record["world_size"] == 2
    assert record["num_test_videos"] == record["num_test_scored"] == 9  # odd: no padding
    (folder,) = out.glob("cells/*")
    assert len((folder / "train_log.jsonl").read_text().splitlines()) == 6


def children_of(pid: int) -> list[int]:
    """The processes whose parent is `pid` (from /proc), so the test stops all it started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.xdist_group("ddp")
def test_ddp_resume_after_a_kill_matches_an_uninterrupted_ddp_run(tmp_path, ddp_run):
    path, straight = ddp_run
    out = tmp_path / "b"
    held = {**os.environ, HOLD: "2"}  # rank 0 saves epoch 2 and trains no further
    proc = subprocess.Popen(
        torchrun(path, out),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=held,
    )
    try:
        ckpt = wait_for_checkpoint("cells/*/last.pt", out, 2, timeout=240)
    finally:
        ranks = children_of(proc.pid)  # torchrun starts each rank in a session of its own
        os.killpg(proc.pid, signal.SIGKILL)
        for rank in ranks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(rank, signal.SIGKILL)
        proc.wait(timeout=30)
    assert torch.load(ckpt, weights_only=False)["epoch"] == 2
    resumed = subprocess.run(torchrun(path, out), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    (a,) = straight.glob("cells/*/last.pt")
    wa, wb = torch.load(a, weights_only=False), torch.load(ckpt, weights_only=False)
    assert len(wb["rng"]) == 2  # one RNG state per rank
    for key in wa["model"]:
        assert torch.equal(wa["model"][key], wb["model"][key]), key
