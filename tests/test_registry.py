import pytest
import torch
from torch import nn

from mtbench.registry import (
    ModelConfigError,
    create_model,
    list_models,
    model_entry,
    register_model,
    validate_model,
)

TORCHVISION_MODELS = ["r3d-18", "mc3-18", "r2plus1d-18", "s3d"]


def test_torchvision_models_are_registered_with_families():
    names = list_models()
    for name in TORCHVISION_MODELS:
        assert name in names
    assert model_entry("r2plus1d-18").family == "r2plus1d"
    assert "r3d-18" in list_models("r3d")
    assert "s3d" not in list_models("r3d")


# s3d's final average pool needs 16x224x224; the ResNets take small clips.
SMALL_INPUTS = {"s3d": (1, 3, 16, 224, 224)}


@pytest.mark.parametrize("name", TORCHVISION_MODELS)
def test_every_model_takes_num_classes_and_a_clip(name):
    model = create_model(name, num_classes=7).eval()
    shape = SMALL_INPUTS.get(name, (2, 3, 8, 64, 64))
    with torch.no_grad():
        out = model(torch.randn(shape))
    assert out.shape == (shape[0], 7)


def test_unknown_name_lists_choices_and_suggests():
    with pytest.raises(ModelConfigError) as err:
        create_model("r3d-19")
    msg = str(err.value)
    assert "did you mean 'r3d-18'" in msg and "s3d" in msg and "\n" not in msg
    assert err.value.key == "name"


def test_unknown_kwarg_lists_valid_ones():
    with pytest.raises(ModelConfigError) as err:
        create_model("r3d-18", num_clases=10)
    assert "num_clases" in str(err.value) and "num_classes" in str(err.value)
    assert err.value.key == "num_clases"


def test_builder_errors_carry_the_model_name_and_key():
    @register_model("test-picky", family="test")
    def picky(num_classes: int = 10, width: int = 8) -> nn.Module:
        if width % 4:
            raise ModelConfigError(f"width must be a multiple of 4, got {width}", key="width")
        return nn.Linear(width, num_classes)

    with pytest.raises(ModelConfigError) as err:
        create_model("test-picky", width=6)
    assert str(err.value) == "test-picky: width must be a multiple of 4, got 6"
    assert err.value.key == "width"
    validate_model("test-picky", width=8)  # builds on meta without allocating


def test_builder_must_take_num_classes():
    with pytest.raises(ModelConfigError, match="must take num_classes"):

        @register_model("test-no-classes", family="test")
        def bad(width: int = 8) -> nn.Module:
            return nn.Linear(width, 2)


def test_validate_builds_on_meta_device():
    validate_model("s3d", num_classes=5)
    with pytest.raises(ModelConfigError):
        validate_model("s3d", num_classes=5, bogus=1)
