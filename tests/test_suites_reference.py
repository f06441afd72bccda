"""The shipped training suites validate (`--dry-run`) against a tiny tree in their layouts."""

from pathlib import Path

import pytest

SUITES = Path(__file__).parent.parent / "suites"


@pytest.mark.parametrize(
    "suite,cells",
    [("ucf101-finetune.toml", 6), ("hmdb51-finetune.toml", 6), ("kinetics-scratch.toml", 3)],
)
def test_reference_suite_validates_against_its_layout(
    data_tree, suite, cells, cli_inproc, monkeypatch
):
    monkeypatch.chdir(data_tree)
    result = cli_inproc("run", str(SUITES / suite), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"{cells} cells" in result.stdout
    if suite == "kinetics-scratch.toml":
        assert "multigrid schedule of mtnet-32" in result.stdout


def test_reference_suite_without_its_data_is_one_line_per_problem(
    tmp_path, cli_inproc, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = cli_inproc("run", str(SUITES / "ucf101-finetune.toml"), "--dry-run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "data/UCF-101" in result.stderr or "ucfTrainTestlist" in result.stderr
