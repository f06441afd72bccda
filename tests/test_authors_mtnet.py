"""The authors' released MTNets (issue 19): their checkpoint format and names, and the Jan 2021
rules of `mtbench.models.authors` on hand-worked examples.

Agreement with the authors' own code (relative difference of logits 2e-7 to 5e-7 at 16x112x112
and 16x256x256) was measured outside the repository, see docs/mtnet.md; their code is not
vendored, so these tests check the rules one by one instead.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from baselines.weights import map_keys
from mtbench.models.authors import (
    AuthorsStemPool,
    AuthorsToLong,
    floor_mean,
    resize_to,
    select_interior_frames,
)
from mtbench.models.authors_keys import mtnet_authors_names
from mtbench.models.mtnet import BLOCKS_PER_STAGE
from mtbench.registry import ModelConfigError, create_model, validate_model

pytestmark = pytest.mark.usefixtures("one_thread")


def n_params(name: str) -> int:
    with torch.device("meta"):
        return sum(p.numel() for p in create_model(name).parameters())


def test_presets_have_the_authors_parameter_counts():
    assert [n_params(n) for n in ("mtnet-s", "mtnet-m", "mtnet-l")] == [
        39_879_368,
        43_935_688,
        88_030_152,
    ]


def authors_file(model: torch.nn.Module, depth: int, path: Path, dtype=None) -> dict:
    """`model` saved as the authors' train/model.py saves: DataParallel names, their keys."""
    state = map_keys(model.state_dict(), mtnet_authors_names(BLOCKS_PER_STAGE[depth]))
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    torch.save({"epoch": 12, "state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    return state


def test_authors_names_round_trip_every_tensor(tmp_path):
    torch.manual_seed(0)
    saved = create_model("mtnet-s")
    state = authors_file(saved, 48, tmp_path / "mtnet_s.pth")
    # Names as the authors' network/MTnet.py spells them (stage 3 has 5 blocks in MTNet_s).
    for key in (
        "layer1.0.conv1_1.conv_short2long.weight",
        "layer2.0.downsample.norm_long.running_var",
        "layer3.4.conv3.conv_long.weight",
        "layer4.2.sr_long.op.weight_hh_l1",
        "stem.1.num_batches_tracked",
        "fc.bias",
    ):
        assert key in state, key
    torch.manual_seed(1)
    loaded = create_model("mtnet-s", weights=str(tmp_path / "mtnet_s.pth"))
    ours = loaded.state_dict()
    assert ours.keys() == saved.state_dict().keys()
    for key, value in saved.state_dict().items():
        assert torch.equal(ours[key], value), key


def test_float16_checkpoint_loads_into_float32(tmp_path):
    torch.manual_seed(0)
    saved = create_model("mtnet-s")
    authors_file(saved, 48, tmp_path / "half.pth", dtype=torch.float16)
    loaded = create_model("mtnet-s", weights=str(tmp_path / "half.pth")).state_dict()
    for key, value in saved.state_dict().items():
        assert loaded[key].dtype == value.dtype, key
        expected = value.half().to(value.dtype) if value.is_floating_point() else value
        assert torch.equal(loaded[key], expected), key


@pytest.mark.slow
def test_mtbench_checkpoint_and_bare_state_dict_load_through_the_same_map(tmp_path):
    with torch.device("meta"):
        model = create_model("mtnet-l")
    state = {k: torch.zeros(v.shape, dtype=v.dtype) for k, v in model.state_dict().items()}
    torch.save({"model": state, "epoch": 1}, tmp_path / "last.pt")
    validate_model("mtnet-l", weights=str(tmp_path / "last.pt"))
    authors = map_keys(state, mtnet_authors_names(BLOCKS_PER_STAGE[132]))
    assert "layer3.22.conv2.conv_short.weight" in authors
    torch.save(authors, tmp_path / "bare.pth")
    validate_model("mtnet-l", weights=str(tmp_path / "bare.pth"))
    # Any depth's map, on the paper-default model too.
    validate_model(
        "mtnet-132", num_classes=200, weights=str(tmp_path / "bare.pth"), lateral_norm="shared"
    )


def depth_file(name: str, depth: int, path: Path) -> Path:
    with torch.device("meta"):
        state = create_model(name).state_dict()
    names = map_keys(state, mtnet_authors_names(BLOCKS_PER_STAGE[depth]))
    torch.save({"epoch": 1, "state_dict": {k: torch.zeros(1) for k in names}}, path)
    return path


@pytest.mark.parametrize(
    ("source", "depth", "target", "needle"),
    [
        ("mtnet-m", 64, "mtnet-s", "missing none, unexpected 'layer1.2.conv1_1.conv_short.weight'"),
        ("mtnet-s", 48, "mtnet-m", "missing 'blocks.2.convs.0.conv_short.weight' (and"),
    ],
)
def test_a_file_of_another_depth_names_missing_and_unexpected_keys(
    tmp_path, source, depth, target, needle
):
    path = depth_file(source, depth, tmp_path / "other.pth")
    with pytest.raises(ModelConfigError) as info:
        validate_model(target, weights=str(path))
    message = str(info.value)
    assert "\n" not in message and info.value.key == "weights"
    assert needle in message and "more)" in message


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"variant": "authors-2021", "lateral_pool": "softpool"}, "lateral_pool='avg'"),
        ({"variant": "authors-2021", "sr_cell": "lstm"}, "sr_cell='gru'"),
        ({"variant": "authors"}, "variant must be one of 'paper' | 'authors-2021'"),
    ],
)
def test_variant_refusals_are_one_line(kwargs, needle):
    with pytest.raises(ModelConfigError) as info:
        validate_model("mtnet-48", **kwargs)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_variant_on_a_depth_is_the_released_network(tmp_path):
    torch.manual_seed(0)
    released = create_model("mtnet-s").eval()
    path = tmp_path / "s.pth"
    authors_file(released, 48, path)
    same = create_model("mtnet-48", num_classes=200, variant="authors-2021", weights=str(path))
    clip = torch.randn(1, 3, 4, 64, 64)  # the smallest maps the authors' code runs on
    with torch.no_grad():
        assert torch.equal(same.eval()(clip), released(clip))


def frames_at(angles_deg: list[float]) -> torch.Tensor:
    """(1, 2, T, 1, 1): frame t is the unit vector at angle t, so cos^2 is known by hand."""
    a = torch.tensor(angles_deg, dtype=torch.float64) * math.pi / 180
    return torch.stack([a.cos(), a.sin()])[None, :, :, None, None]


def test_frame_selection_keeps_floor_half_of_the_interior_frames():
    # Neighbour cos^2: 0-1 0.970, 1-2 0.970, 2-3 0.25, 3-4 1. Interior scores: frame 1
    # 0.970, frame 2 0.610, frame 3 0.625. Frame 4 (cos^2 1 to its one neighbour) is an end.
    x = frames_at([0, 10, 20, 80, 80])
    assert torch.equal(select_interior_frames(x), x[:, :, [1, 3]])
    # T = 4: scores 1 (frame 1) and 0.5 (frame 2); frames 0 and 3 never kept, floor(4/2) = 2.
    x = frames_at([0, 0, 0, 90])
    assert torch.equal(select_interior_frames(x), x[:, :, [1, 2]])
    # T = 3: floor(3/2) = 1, the middle frame whatever the scores.
    x = frames_at([0, 90, 90])
    assert torch.equal(select_interior_frames(x), x[:, :, [1]])


def test_two_frames_are_not_selected_but_averaged_to_the_long_stream():
    x = torch.arange(1.0, 9.0).view(1, 1, 2, 2, 2)  # frames [[1,2],[3,4]] and [[5,6],[7,8]]
    lateral = AuthorsToLong()(x)
    assert lateral.shape == (1, 1, 2, 1, 1)  # T = 2: no selection
    assert resize_to(lateral, (1, 1, 1)).item() == pytest.approx((2.5 + 6.5) / 2)


def test_floor_mode_pool_then_resize_on_a_7x7_map():
    x = torch.arange(49.0).view(1, 1, 1, 7, 7)
    # Floor mode drops row and column 6: window (r, c) averages 7 (2r + 1/2) + 2c + 1/2.
    pooled = floor_mean(x)
    assert pooled[0, 0, 0].tolist() == [[4, 6, 8], [18, 20, 22], [32, 34, 36]]
    # 3 -> 4, align_corners False: output d samples (d + 1/2) 3/4 - 1/2, clamped at 0 and 2,
    # i.e. grid positions 0, 0.625, 1.375, 2; the map is linear, 14 r + 2 c + 4.
    p = [0, 0.625, 1.375, 2]
    expected = torch.tensor([[14 * i + 2 * j + 4 for j in p] for i in p])
    assert torch.allclose(resize_to(pooled, (1, 4, 4))[0, 0, 0], expected, atol=1e-5)


def test_odd_stem_output_is_replicate_padded_before_the_max_pool():
    x = torch.arange(9.0).view(1, 1, 1, 3, 3)  # rows [0 1 2] [3 4 5] [6 7 8]
    # Padded top and left by replication: [0 0 1 2] [0 0 1 2] [3 3 4 5] [6 6 7 8], then the
    # 3x3 stride-2 padding-1 max pool: windows rows/cols -1..1 and 1..3.
    assert AuthorsStemPool()(x)[0, 0, 0].tolist() == [[0, 2], [6, 8]]
