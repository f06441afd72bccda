"""The shipped training suites validate (`--dry-run`) against a tiny tree in their layouts."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from videos import write_hmdb51, write_kinetics, write_ucf101

SUITES = Path(__file__).parent.parent / "suites"


@pytest.fixture(scope="module")
def data_tree(tmp_path_factory):
    """data/ as the suites expect it, with every official split (copies of split 1)."""
    base = tmp_path_factory.mktemp("project")
    data = base / "data"
    _, ucf = write_ucf101(data)
    _, hmdb = write_hmdb51(data)
    write_kinetics(data)
    for n in (2, 3):
        for kind in ("train", "test"):
            shutil.copy(ucf / f"{kind}list01.txt", ucf / f"{kind}list0{n}.txt")
        for split1 in hmdb.glob("*_test_split1.txt"):
            shutil.copy(split1, split1.with_name(split1.name.replace("split1", f"split{n}")))
    return base


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
