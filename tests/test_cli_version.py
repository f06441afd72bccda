"""`mtbench --version` names what ran, for a bug report: the release, the commit a record of
this checkout carries (as git itself gives it) and the torch it imports."""

import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

import mtbench
from mtbench.measure.environment import environment


def test_version_prints_release_commit_and_torch_and_exits_0(cli_inproc):
    result = cli_inproc("--version")
    assert result.returncode == 0, result.stderr
    commit = environment(torch.device("cpu"))["git_commit"]
    release = version("mtbench")  # the installed package's metadata, from pyproject.toml
    assert result.stdout == f"mtbench {release} (commit {commit}, torch {torch.__version__})\n"


@pytest.mark.skipif(shutil.which("git") is None, reason="no git to read the checkout's commit")
def test_the_commit_printed_is_the_checkouts_head(cli_inproc):
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=Path(mtbench.__file__).parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert f"(commit {head}, " in cli_inproc("--version").stdout


def test_version_wins_over_a_command_and_runs_nothing(cli_inproc):
    result = cli_inproc("--version", "models")
    assert result.returncode == 0
    assert result.stdout.startswith(f"mtbench {version('mtbench')} (commit ")
    assert len(result.stdout.splitlines()) == 1  # the version line, no model listed
