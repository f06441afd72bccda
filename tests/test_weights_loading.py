"""`weights`: torchvision's state_dicts, mtbench's own checkpoints, and checkpoints that do not
fit (one line naming the first missing and unexpected keys; exit 2 from the CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import assert_one_line_error
from torchvision.models import video as tvv

from mtbench.registry import ModelConfigError, create_model, validate_model

TORCHVISION = {"r3d-18": tvv.r3d_18, "mc3-18": tvv.mc3_18, "r2plus1d-18": tvv.r2plus1d_18}


def randomise_norm_stats(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)


@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_state_dict_gives_identical_outputs(
    name: str, tmp_path: Path, one_thread
) -> None:
    torch.manual_seed(0)
    reference = TORCHVISION[name](num_classes=400)
    randomise_norm_stats(reference)
    path = tmp_path / f"{name}.pth"
    torch.save(reference.state_dict(), path)
    model = create_model(name, weights=str(path)).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(clip), reference.eval()(clip))


def test_torchvision_s3d_state_dict_loads(tmp_path: Path) -> None:
    """S3D's pool differs (global here) only where torchvision's fixed window cannot fit."""
    reference = tvv.s3d(num_classes=400)
    path = tmp_path / "s3d.pth"
    torch.save(reference.state_dict(), path)
    model = create_model("s3d", weights=str(path))
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


def test_mtbench_training_checkpoint_and_ddp_prefix(tmp_path: Path, one_thread) -> None:
    torch.manual_seed(0)
    trained = create_model("x3d-xs", num_classes=7).eval()
    state = {f"module.{k}": v for k, v in trained.state_dict().items()}
    path = tmp_path / "last.pt"
    torch.save({"model": state, "optimizer": {}, "epoch": 3}, path)
    torch.manual_seed(1)
    loaded = create_model("x3d-xs", num_classes=7, weights=str(path)).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(clip), trained(clip))


def test_misfit_names_first_missing_and_unexpected_key(tmp_path: Path) -> None:
    path = tmp_path / "r3d.pth"
    torch.save(tvv.r3d_18().state_dict(), path)
    with pytest.raises(ModelConfigError) as info:
        validate_model("mc3-18", weights=str(path))  # same names, other shapes
    assert info.value.key == "weights"
    assert "layer2.0.conv1.0.weight" in str(info.value)
    with pytest.raises(ModelConfigError) as info:
        validate_model("x3d-xs", weights=str(path))
    message = str(info.value)
    assert "\n" not in message
    assert "missing 'blocks.0.conv.conv_t.weight'" in message
    assert "unexpected 'stem.0.weight'" in message


def test_class_count_mismatch_is_named(tmp_path: Path) -> None:
    path = tmp_path / "r3d.pth"
    torch.save(tvv.r3d_18(num_classes=400).state_dict(), path)
    with pytest.raises(ModelConfigError, match="fc.weight.*num_classes"):
        validate_model("r3d-18", num_classes=10, weights=str(path))


@pytest.mark.parametrize(
    ("content", "needle"),
    [(None, "no such file"), (b"not a checkpoint", "not a readable"), ([1, 2], "no state_dict")],
)
def test_unreadable_files_are_one_line(tmp_path: Path, content, needle: str) -> None:
    path = tmp_path / "ckpt.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(ModelConfigError, match=needle) as info:
        validate_model("r3d-18", weights=str(path))
    assert "\n" not in str(info.value)


def test_cli_profile_takes_weights_and_exits_2_on_a_misfit(tmp_path: Path, cli_inproc) -> None:
    good, bad = tmp_path / "good.pth", tmp_path / "bad.pth"
    torch.save(create_model("x3d-xs").state_dict(), good)
    torch.save(tvv.r3d_18().state_dict(), bad)
    args = ("profile", "x3d-xs", "--input", "1x3x4x32x32", "--measure", "params")
    ok = cli_inproc(*args, "--kw", f"weights={good}", "--json")
    assert ok.returncode == 0, ok.stderr
    assert '"params_total": 3794274' in ok.stdout
    result = cli_inproc(*args, "--kw", f"weights={bad}")
    assert_one_line_error(result, "weights=", "missing 'blocks.0.conv.conv_t.weight'")


def test_suite_validates_weights_like_any_keyword(tmp_path: Path) -> None:
    from mtbench.suite.grid import load_suite

    path = tmp_path / "X3D_XS.pyth"
    torch.save({"model_state": create_model("x3d-xs").state_dict()}, path)
    suite = tmp_path / "published.toml"
    models = "".join(
        f'[[models]]\nname = "{name}"\nweights = "{path}"\n' for name in ("x3d-xs", "x3d-l")
    )
    suite.write_text(
        '[suite]\nname = "published"\n[defaults]\ninput = [1, 3, 4, 32, 32]\n'
        'measure = ["params"]\n' + models
    )
    with pytest.raises(Exception, match=r"models\[1\]\.weights: .*does not fit: missing") as info:
        load_suite(suite)
    assert "\n" not in str(info.value)
    suite.write_text(suite.read_text().replace("x3d-l", "x3d-s"))
    _, cells = load_suite(suite)
    assert [c.kwargs["weights"] for c in cells] == [str(path)] * 2


def test_every_baseline_builder_takes_weights() -> None:
    from baselines.reference import BASELINE_FAMILIES
    from mtbench.registry import list_models, model_entry

    names = [n for n in list_models() if model_entry(n).family in BASELINE_FAMILIES]
    assert names and all("weights" in model_entry(n).kwargs for n in names)


def test_srtg_loads_its_own_training_checkpoint(tmp_path: Path, one_thread) -> None:
    torch.manual_seed(0)
    trained = create_model("srtg-r3d-34", num_classes=5).eval()
    path = tmp_path / "last.pt"
    torch.save({"model": trained.state_dict()}, path)
    torch.manual_seed(1)
    loaded = create_model("srtg-r3d-34", num_classes=5, weights=str(path)).eval()
    clip = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded(clip), trained(clip))
