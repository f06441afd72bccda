"""Table 4's TSM and MF-Net: the temporal shift moves what TSM says it moves, and MF-Net's fibers
are grouped as the paper draws them."""

from __future__ import annotations

import torch

from baselines.tsm import temporal_shift
from mtbench.registry import create_model


def test_shift_moves_one_eighth_each_way_and_pads_with_zeros() -> None:
    frames, channels = 4, 16
    x = torch.arange(frames, dtype=torch.float).view(1, frames, 1, 1, 1)
    x = x.expand(1, frames, channels, 1, 1).reshape(frames, channels, 1, 1)
    out = temporal_shift(x, frames).view(frames, channels)
    # frame index seen by each channel group at each time step (-1: zero padding)
    back = out[:, :2].unique(dim=1).flatten().tolist()  # channels [0, C/8): the next frame
    fwd = out[:, 2:4].unique(dim=1).flatten().tolist()  # [C/8, C/4): the previous frame
    assert back == [1, 2, 3, 0]
    assert fwd == [0, 0, 1, 2]
    assert torch.equal(out[:, 4:], x.view(frames, channels)[:, 4:])


def test_tsm_is_a_per_frame_network_only_through_the_shift() -> None:
    """With every shift removed, a clip's logits are the mean of its frames' 2D logits."""
    torch.manual_seed(0)
    model = create_model("tsm-r50", num_classes=5).eval()
    clip = torch.randn(1, 3, 2, 32, 32)
    with torch.no_grad():
        shifted = model(clip)
        for shift in model.shifts:
            shift.forward = shift.net.forward
        unshifted = model(clip)
        per_frame = model.new_fc(model.base_model(clip[0].transpose(0, 1))).mean(0)
    assert torch.allclose(unshifted[0], per_frame, atol=1e-5)
    assert not torch.allclose(shifted, unshifted, atol=1e-3)


def test_mfnet_fibers_are_sixteen_groups() -> None:
    with torch.device("meta"):
        model = create_model("mfnet")
    unit = model.conv3.B02
    assert unit.conv_m1.conv.groups == unit.conv_m2.conv.groups == 16
    assert unit.conv_i1.conv.out_channels == unit.conv_m1.conv.out_channels // 4
