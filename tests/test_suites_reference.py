"""The shipped training suites validate (`--dry-run`) against a tiny tree in their layouts."""

import subprocess
import sys
from pathlib import Path

import pytest

SUITES = Path(__file__).parent.parent / "suites"


@pytest.mark.parametrize(
    "suite,cells",
    [("ucf101-finetune.toml", 6), ("hmdb51-finetune.toml", 6), ("kinetics-scratch.toml", 3)],
)
def test_reference_suite_validates_against_its_layout(data_tree, suite, cells):
    cmd = [sys.executable, "-m", "mtbench", "run", str(SUITES / suite), "--dry-run"]
    result = subprocess.run(cmd, cwd=data_tree, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{cells} cells" in result.stdout
    if suite == "kinetics-scratch.toml":
        assert "multigrid schedule of mtnet-32" in result.stdout


def test_reference_suite_without_its_data_is_one_line_per_problem(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "mtbench",
        "run",
        str(SUITES / "ucf101-finetune.toml"),
        "--dry-run",
    ]
    result = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "data/UCF-101" in result.stderr or "ucfTrainTestlist" in result.stderr
