"""MTNet: shapes, parameter counts against Table 3, gradients, determinism, validation."""

from __future__ import annotations

import math

import pytest
import torch

from mtbench.models.mtconv import MTConv, select_frames
from mtbench.models.mtnet import BLOCKS_PER_STAGE, PAPER_TABLE3, MTNet
from mtbench.registry import ModelConfigError, create_model, list_models, validate_model

pytestmark = pytest.mark.usefixtures("one_thread")


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(name: str, **kwargs) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(name, **kwargs)


def test_registered_depths():
    released = {"mtnet-s", "mtnet-m", "mtnet-l"}  # the authors' checkpoints (issue 19)
    assert set(list_models("mtnet")) == {f"mtnet-{d}" for d in BLOCKS_PER_STAGE} | released


@pytest.mark.parametrize(("depth", "g"), list(PAPER_TABLE3))
def test_params_within_5_percent_of_table3(depth, g):
    paper_millions = PAPER_TABLE3[(depth, g)][0]
    count = n_params(on_meta(f"mtnet-{depth}", g=g, num_classes=700))
    assert abs(count / 1e6 - paper_millions) / paper_millions < 0.05


@pytest.mark.parametrize("depth", sorted(BLOCKS_PER_STAGE))
def test_output_shape_every_depth(depth):
    # Shapes only: the meta device runs the forward without computing anything. Few frames,
    # because the GRU's meta kernel unrolls the sequence in Python.
    model = on_meta(f"mtnet-{depth}", num_classes=11).eval()
    with torch.device("meta"):
        assert model(torch.empty(2, 3, 2, 64, 64)).shape == (2, 11)


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (1, 3, 7, 57, 57)),
        ({"g": 8}, (2, 3, 8, 32, 48)),
        ({"r": 0.5, "g": 4}, (1, 3, 2, 33, 31)),
        ({"r": 0.625, "g": 8, "substream_norm": "group"}, (1, 3, 5, 40, 40)),
        ({"r": 1.0}, (1, 3, 3, 35, 35)),
        ({"long_temporal": "keep", "stem_pool": "max", "lateral_pool": "avg"}, (1, 3, 6, 45, 45)),
        ({"long_temporal": "select", "stem_temporal": "select"}, (1, 3, 9, 33, 33)),
        ({"sr_cell": "lstm", "sr_gate": "sigmoid", "lateral_norm": "shared"}, (1, 3, 4, 32, 32)),
        ({"sr_cell": "none", "lateral_pool": "softpool"}, (1, 3, 4, 32, 32)),
    ],
)
def test_output_shape_configurations(kwargs, shape):
    torch.manual_seed(0)
    model = create_model("mtnet-32", num_classes=5, **kwargs).eval()
    with torch.inference_mode():
        out = model(torch.randn(shape))
    assert out.shape == (shape[0], 5)
    assert torch.isfinite(out).all()


def test_paper_input_shapes_on_meta():
    model = on_meta("mtnet-32", g=8).eval()
    with torch.device("meta"):
        for shape in [(1, 3, 8, 112, 112), (2, 3, 16, 320, 320)]:
            assert model(torch.empty(shape)).shape == (shape[0], 400)


@pytest.mark.parametrize("long_temporal", ["pool", "keep", "select"])
def test_long_stream_at_half_resolution(long_temporal):
    model = create_model("mtnet-32", long_temporal=long_temporal).eval()
    with torch.inference_mode():
        x = model.stem(torch.randn(1, 3, 7, 45, 45))
        short, long = model.blocks[0]((x[:, :56], model.to_long(x[:, 56:])))
    t = math.ceil(7 / 2) if long_temporal != "keep" else 7
    assert short.shape[1:] == (56, 7, 12, 12)
    assert long.shape[1:] == (8, t, 6, 6)


def test_every_parameter_gets_a_finite_gradient():
    torch.manual_seed(0)
    model = create_model("mtnet-32", num_classes=3, g=8, substream_norm="group").train()
    model(torch.randn(2, 3, 4, 32, 32)).logsumexp(1).sum().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


def test_r1_builds_no_long_stream():
    model = create_model("mtnet-32", r=1.0).eval()
    mtconvs = [m for m in model.modules() if isinstance(m, MTConv)]
    assert mtconvs and all(m.conv_long is None and m.conv_lateral is None for m in mtconvs)
    assert model.to_long is None
    assert all(len(block.sr) == 1 for block in model.blocks)
    with torch.inference_mode():
        short, long = model.features(torch.randn(1, 3, 4, 32, 32))
    assert long is None and short.shape[1] == 512
    assert model.fc.in_features == 512


def test_same_seed_same_output():
    x = torch.randn(1, 3, 4, 32, 32)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = create_model("mtnet-32").eval()
        with torch.inference_mode():
            outs.append(model(x))
    assert torch.equal(outs[0], outs[1])


def test_select_frames_keeps_order_and_count():
    x = torch.randn(2, 4, 7, 3, 3)
    picked = select_frames(x, 4)
    assert picked.shape == (2, 4, 4, 3, 3)
    for b in range(2):
        frames = [
            next(t for t in range(7) if torch.equal(x[b, :, t], picked[b, :, i])) for i in range(4)
        ]
        assert frames == sorted(frames)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"r": 0.3}, "r"),
        ({"r": 1.2}, "r"),
        ({"g": 7}, "g"),
        ({"g": 0}, "g"),
        ({"g": 64}, "g"),
        ({"r": 0.75, "g": 32}, "g"),
        ({"num_classes": 0}, "num_classes"),
        ({"long_temporal": "half"}, "long_temporal"),
        ({"stem_pool": "avg"}, "stem_pool"),
        ({"sr_cell": "rnn"}, "sr_cell"),
        ({"sr_gate": "tanh"}, "sr_gate"),
        ({"lateral_pool": "max"}, "lateral_pool"),
        ({"substream_norm": "layer"}, "substream_norm"),
    ],
)
def test_bad_values_raise_with_key(kwargs, key):
    with pytest.raises(ModelConfigError) as err:
        validate_model("mtnet-64", **kwargs)
    assert err.value.key == key
    assert "\n" not in str(err.value)


def test_g_error_names_allowed_values():
    with pytest.raises(ModelConfigError, match=r"allowed g at r=0.875: 1, 2, 8$"):
        MTNet((1, 1, 1, 1), g=7)


def test_builder_doc_lists_every_keyword():
    entry_doc = create_model.__globals__["model_entry"]("mtnet-64")
    assert entry_doc.doc.startswith("MTNet-64")
    full = create_model.__globals__["model_entry"]("mtnet-64").builder.__doc__
    for key in entry_doc.kwargs:
        assert f"{key}:" in full, key


def test_the_reports_mtnet_defaults_are_the_builders():
    from mtbench.models.mtnet import MTNetConfig
    from mtbench.report.frame import MTNET_DEFAULTS

    assert MTNET_DEFAULTS == {"r": MTNetConfig.r, "g": MTNetConfig.g}
