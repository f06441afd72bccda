"""SRTG as the authors published it (issue 19): their checkpoint names with and without cells,
the 2020-21 stem max pool, and one-line refusals that name the keyword that fits a file.

Logits against the authors' own `srtg_resnet.py` (random weights and BN statistics, 16x112x112)
were measured outside the repository: identical without cells, 1e-8 relative with cells.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines.weights import map_keys
from mtbench.models.authors_keys import srtg_authors_names
from mtbench.registry import ModelConfigError, create_model, validate_model

pytestmark = pytest.mark.usefixtures("one_thread")


def save_as_authors(model: torch.nn.Module, conv: str, depth: int, recursion: bool, path: Path):
    state = map_keys(model.state_dict(), srtg_authors_names(conv, depth, recursion))
    torch.save({"epoch": 40, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return state


@pytest.mark.parametrize(
    ("conv", "depth", "recursion", "authors_key"),
    [
        ("r3d", 34, True, "layer1.0.conv2.0.0.weight"),  # Conv3DSimple inside the Sequential
        ("r3d", 50, True, "layer4.2.sar.lstm.weight_hh_l1"),
        ("r2plus1d", 50, False, "layer2.0.conv2.0.3.weight"),  # torchvision's names
    ],
)
def test_authors_names_round_trip_every_tensor(tmp_path, conv, depth, recursion, authors_key):
    name = f"srtg-{conv}-{depth}"
    torch.manual_seed(0)
    saved = create_model(name, num_classes=200, recursion=recursion)
    state = save_as_authors(saved, conv, depth, recursion, tmp_path / "srtg.pth")
    assert authors_key in state
    assert "layer1.0.conv1.1.running_var" in state and "stem.1.weight" in state
    torch.manual_seed(1)
    loaded = create_model(
        name, num_classes=200, recursion=recursion, weights=str(tmp_path / "srtg.pth")
    ).state_dict()
    assert loaded.keys() == saved.state_dict().keys()
    for key, value in saved.state_dict().items():
        assert torch.equal(loaded[key], value), key


def test_stem_max_pool_halves_t_h_w_and_adds_no_parameters():
    with_pool = create_model("srtg-r3d-34", num_classes=5)
    without = create_model("srtg-r3d-34", num_classes=5, stem_pool="none")
    clip = torch.randn(1, 3, 8, 32, 32)
    with torch.no_grad():
        assert with_pool.stem(clip).shape == (1, 64, 4, 8, 8)
        assert without.stem(clip).shape == (1, 64, 8, 16, 16)
    assert with_pool.state_dict().keys() == without.state_dict().keys()


def test_file_without_cells_into_a_model_with_cells_names_recursion_false(tmp_path):
    plain = create_model("srtg-r3d-50", num_classes=200, recursion=False)
    torch.save({"epoch": 1, "state_dict": plain.state_dict()}, tmp_path / "srtg_r3d_50.pth")
    with pytest.raises(ModelConfigError) as info:
        validate_model("srtg-r3d-50", num_classes=200, weights=str(tmp_path / "srtg_r3d_50.pth"))
    message = str(info.value)
    assert "\n" not in message and info.value.key == "weights"
    assert "holds no LSTM tensors" in message and "recursion=False" in message
    validate_model(
        "srtg-r3d-50", num_classes=200, recursion=False, weights=str(tmp_path / "srtg_r3d_50.pth")
    )


def test_file_with_cells_into_a_model_without_names_recursion_true(tmp_path):
    with torch.device("meta"):
        cells = create_model("srtg-r3d-34", num_classes=5).state_dict()
    torch.save({k: torch.zeros(1) for k in cells}, tmp_path / "cells.pth")
    with pytest.raises(ModelConfigError) as info:
        validate_model(
            "srtg-r3d-34", num_classes=5, recursion=False, weights=str(tmp_path / "cells.pth")
        )
    assert "holds LSTM tensors" in str(info.value) and "recursion=True" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"stem_pool": "avg"}, "stem_pool must be one of 'max' | 'none'"),
        ({"gates": True, "recursion": False}, "gates=True needs recursion=True"),
    ],
)
def test_srtg_refusals_are_one_line(kwargs, needle):
    with pytest.raises(ModelConfigError) as info:
        validate_model("srtg-r2plus1d-34", **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)
