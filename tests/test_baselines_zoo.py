"""Every baseline is the published architecture: its parameter count against the reference table.

Parameter counts run on the meta device (no memory, no compute), so the whole zoo is checked.
"""

from __future__ import annotations

import pytest
import torch

from baselines.reference import BASELINE_FAMILIES, load_reference
from mtbench.registry import ModelConfigError, create_model, list_models, validate_model

REFERENCE = load_reference()
BASELINES = [name for family in BASELINE_FAMILIES for name in list_models(family)]


def meta_params(name: str, **kwargs: object) -> int:
    with torch.device("meta"):
        model = create_model(name, **kwargs)
    return sum(p.numel() for p in model.parameters())


def test_zoo_is_complete() -> None:
    expected = {
        *(f"r3d-{d}" for d in (18, 34, 50, 101, 152)),
        *(f"r2plus1d-{d}" for d in (18, 34, 50, 101, 152)),
        *(f"{v}csn-{d}" for v in ("ir", "ip") for d in (50, 101, 152)),
        *(f"srtg-{c}-{d}" for c in ("r3d", "r2plus1d") for d in (34, 50, 101)),
        "i3d",
        "i3d-r50",
        "slowfast-r50",
        "slowfast-r101",
        "slow-r50",
        "tsm-r50",
        "mfnet",
        *(f"x3d-{size}" for size in ("xs", "s", "m", "l")),
        "mc3-18",
        "s3d",
    }
    assert expected <= set(BASELINES)


# Published numbers this zoo does not reproduce, and why (strict: a fix turns the test red).
KNOWN_DEVIATIONS = {
    "i3d": "the published '12M' is rounded to whole millions; our inflated Inception-v1 has"
    " 12.70 M with its 400-way classifier (12.29 M without it, which rounds to 12 M)",
}


def _with_known_deviations(rows: list) -> list:
    return [
        pytest.param(r, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DEVIATIONS[r.label]))
        if r.label in KNOWN_DEVIATIONS
        else r
        for r in rows
    ]


@pytest.mark.parametrize("ref", _with_known_deviations(REFERENCE), ids=lambda r: r.label)
def test_params_match_reference(ref) -> None:
    params = meta_params(ref.model, num_classes=ref.num_classes, **ref.kwargs)
    if ref.exact:
        assert params == ref.params
    else:
        assert abs(params - ref.params) / ref.params <= ref.params_tolerance, params


def test_i3d_backbone_matches_the_rounded_published_count() -> None:
    backbone = meta_params("i3d", num_classes=0)  # nn.Linear(1024, 0) holds no parameters
    assert round(backbone / 1e6) == 12


def test_torchvision_builders_match_their_metadata() -> None:
    from torchvision.models import video as tvv

    weights = {
        "r3d-18": tvv.R3D_18_Weights,
        "mc3-18": tvv.MC3_18_Weights,
        "r2plus1d-18": tvv.R2Plus1D_18_Weights,
        "s3d": tvv.S3D_Weights,
    }
    for name, enum in weights.items():
        assert meta_params(name) == enum.DEFAULT.meta["num_params"], name


@pytest.mark.parametrize("name", BASELINES)
def test_builds_on_meta_with_any_class_count(name: str) -> None:
    """The classifier has 7 outputs: some weight has 7 rows and none the default's 400."""
    model = validate_model(name, num_classes=7)
    rows = {p.shape[0] for n, p in model.named_parameters() if n.endswith("weight") and p.dim()}
    assert 7 in rows and 400 not in rows


@pytest.mark.parametrize(
    ("name", "kwargs", "key"),
    [
        ("r3d-50", {"definition": "hara"}, "definition"),
        ("r2plus1d-34", {"definition": "pytorchvideo"}, "definition"),
        ("slowfast-r50", {"setting": "16x8"}, "setting"),
        ("srtg-r3d-34", {"gate_epoch": -1}, "gate_epoch"),
    ],
)
def test_invalid_values_name_the_key_and_choices(name: str, kwargs: dict, key: str) -> None:
    with pytest.raises(ModelConfigError) as info:
        validate_model(name, **kwargs)
    assert info.value.key == key
    assert "\n" not in str(info.value)
