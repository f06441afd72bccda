"""Table 5 from the authors' HACS checkpoints (issue 19): the fine-tuning suites validate
(`--dry-run`) against generated UCF-101 / HMDB-51 trees, with the authors' clip and
normalisation and the released networks at the datasets' class counts."""

from pathlib import Path

import pytest
import tomllib

SUITES = Path(__file__).parent.parent / "suites"


@pytest.mark.slow
@pytest.mark.parametrize("suite", ["ucf101-from-hacs.toml", "hmdb51-from-hacs.toml"])
def test_from_hacs_suite_validates_against_its_layout(data_tree, suite, cli_inproc, monkeypatch):
    monkeypatch.chdir(data_tree)
    result = cli_inproc("run", str(SUITES / suite), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "9 cells" in result.stdout  # mtnet-s/m/l x 3 splits
    for name in ("mtnet-s", "mtnet-m", "mtnet-l"):
        assert name in result.stdout


@pytest.mark.parametrize("suite", ["ucf101-from-hacs.toml", "hmdb51-from-hacs.toml"])
def test_from_hacs_suite_has_the_authors_preprocessing(suite):
    data = tomllib.loads((SUITES / suite).read_text())["data"]
    # network/config.py: mean (124, 117, 104) / 255, std 1 / (0.0167 x 255); 16 x 256 x 256
    # at interval 2 after resizing the short side to 294 (data/iterator_factory.py).
    assert data["mean"] == pytest.approx([124 / 255, 117 / 255, 104 / 255], abs=5e-6)
    assert data["std"] == pytest.approx([1 / (0.0167 * 255)] * 3, abs=5e-6)
    assert (data["frames"], data["interval"], data["crop"], data["resize"]) == (
        16,
        2,
        256,
        [294, 294],
    )


@pytest.mark.slow
def test_hacs_eval_suite_validates_and_evaluates_without_training(
    tmp_path, cli_inproc, monkeypatch
):
    """The released checkpoints' evaluation: Kinetics-style CSV, epochs = 0, weights= files."""
    import torch
    from videos import KINETICS_CLASSES, write_kinetics

    from mtbench.registry import create_model

    root, csv = write_kinetics(tmp_path / "data")
    root.rename(tmp_path / "data" / "hacs")
    csv.rename(tmp_path / "data" / "hacs.csv")
    classes = len(KINETICS_CLASSES)
    (tmp_path / "checkpoints").mkdir()
    for size in ("s", "m", "l"):
        with torch.device("meta"):
            model = create_model(f"mtnet-{size}", num_classes=classes)
        state = {
            k: torch.zeros(v.shape, dtype=torch.float16) for k, v in model.state_dict().items()
        }
        torch.save(
            {"epoch": 1, "state_dict": state}, tmp_path / "checkpoints" / f"mtnet_{size}.pth"
        )
    monkeypatch.chdir(tmp_path)
    result = cli_inproc("run", str(SUITES / "hacs-eval.toml"), "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "3 cells" in result.stdout
    data = tomllib.loads((SUITES / "hacs-eval.toml").read_text())
    assert data["train"]["epochs"] == 0 and data["data"]["dataset"] == "kinetics"


def test_zero_epochs_evaluate_the_model_as_built(tmp_path):
    """`train.epochs = 0`: no training step, no checkpoint, the built model evaluated."""
    import textwrap

    from conftest import run_one_cell
    from train_suite import SUITE

    suite = tmp_path / "s.toml"
    suite.write_text(textwrap.dedent(SUITE.format(workers=0)).replace("epochs = 6", "epochs = 0"))
    record = run_one_cell(suite, tmp_path / "out")
    assert record["train_curve"] == [] and record["checkpoint"] is None
    assert record["num_test_scored"] == 6 and record["epochs"] == 0
