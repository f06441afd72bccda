"""The zoo's models are PyTorchVideo's networks: its weights load through `weights` and give
the same logits.

For every family PyTorchVideo's builders cover, its model is built with random weights (and
random BatchNorm statistics, so the running stats are checked too), saved as a PySlowFast /
PyTorchVideo `.pyth` checkpoint ({"model_state": state_dict}), loaded into the mtbench model,
and both run the same clip in eval mode. Tiny clips keep the deep models fast; PyTorchVideo's
fixed head pooling window is sized to the clip (ours pools globally), and its head returns
logits (`head_activation=None`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

from mtbench.registry import create_model

ptv = pytest.importorskip("pytorchvideo.models.resnet")  # the test extra installs it
from pytorchvideo.models.csn import create_csn  # noqa: E402
from pytorchvideo.models.r2plus1d import create_r2plus1d  # noqa: E402
from pytorchvideo.models.slowfast import create_slowfast  # noqa: E402
from pytorchvideo.models.x3d import create_x3d  # noqa: E402

T, S = 8, 64  # frames and pixels: each family's total stride fits, seconds per model


def _i3d_r50() -> nn.Module:  # pytorchvideo.models.hub.i3d_r50
    return ptv.create_resnet(
        stem_conv_kernel_size=(5, 7, 7),
        stage1_pool=nn.MaxPool3d,
        stage_conv_a_kernel_size=(
            (3, 1, 1),
            [(3, 1, 1), (1, 1, 1)],
            [(3, 1, 1), (1, 1, 1)],
            [(1, 1, 1), (3, 1, 1)],
        ),
        head_pool_kernel_size=(T // 2, S // 32, S // 32),
        head_activation=None,
    )


def _slow_r50() -> nn.Module:  # pytorchvideo.models.hub.slow_r50
    return ptv.create_resnet(
        stem_conv_kernel_size=(1, 7, 7),
        head_pool_kernel_size=(T, S // 32, S // 32),
        model_depth=50,
        head_activation=None,
    )


def _slowfast(depth: int, kernel: int) -> Callable[[], nn.Module]:  # hub.slowfast_r50 / r101
    return lambda: create_slowfast(
        model_depth=depth,
        slowfast_fusion_conv_kernel_size=(kernel, 1, 1),
        head_pool_kernel_sizes=((T // 4, S // 32, S // 32), (T, S // 32, S // 32)),
        head_activation=None,
    )


def _csn_r101() -> nn.Module:  # hub.csn_r101
    return create_csn(
        model_depth=101,
        stem_pool=nn.MaxPool3d,
        head_pool_kernel_size=(T // 8, S // 32, S // 32),
        head_activation=None,
    )


def _r2plus1d_r50() -> nn.Module:  # hub.r2plus1d_r50
    return create_r2plus1d(
        head_pool_kernel_size=(T // 4, S // 32, S // 32),
        head_activation=None,
    )


def _x3d(depth_factor: float) -> Callable[[], nn.Module]:  # hub.x3d_xs / s / m / l
    return lambda: create_x3d(
        input_clip_length=T, input_crop_size=S, depth_factor=depth_factor, head_activation=None
    )


# PyTorchVideo hub name -> (its builder, mtbench name, mtbench kwargs)
FAMILIES: dict[str, tuple[Callable[[], nn.Module], str, dict]] = {
    "slowfast_r50": (_slowfast(50, 7), "slowfast-r50", {"setting": "8x8"}),
    "slowfast_r101": (_slowfast(101, 5), "slowfast-r101", {"setting": "8x8"}),
    "slow_r50": (_slow_r50, "slow-r50", {}),
    "i3d_r50": (_i3d_r50, "i3d-r50", {}),
    "csn_r101": (_csn_r101, "ircsn-101", {}),
    "r2plus1d_r50": (_r2plus1d_r50, "r2plus1d-50", {"definition": "pytorchvideo"}),
    "x3d_xs": (_x3d(2.2), "x3d-xs", {}),
    "x3d_s": (_x3d(2.2), "x3d-s", {}),
    "x3d_m": (_x3d(2.2), "x3d-m", {}),
    "x3d_l": (_x3d(5.0), "x3d-l", {}),
}


def randomise_norm_stats(model: nn.Module) -> None:
    """BatchNorm at init is the identity in eval mode; random stats make the check see them."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)


def pathways(name: str, clip: torch.Tensor) -> list[torch.Tensor] | torch.Tensor:
    """SlowFast's inputs formed as mtbench forms them: every 4th frame (alpha) and all."""
    return [clip[:, :, ::4], clip] if name.startswith("slowfast") else clip


@pytest.mark.slow
@pytest.mark.parametrize("hub_name", FAMILIES)
def test_pytorchvideo_checkpoint_gives_the_same_logits(
    hub_name: str, tmp_path: Path, one_thread
) -> None:
    build_reference, name, kwargs = FAMILIES[hub_name]
    torch.manual_seed(0)
    reference = build_reference()
    with torch.no_grad():
        randomise_norm_stats(reference)
    path = tmp_path / f"{hub_name}.pyth"
    torch.save({"model_state": reference.state_dict(), "epoch": 196}, path)

    model = create_model(name, weights=str(path), **kwargs).eval()
    clip = torch.randn(1, 3, T, S, S)
    with torch.no_grad():
        expected = reference.eval()(pathways(hub_name, clip))
        logits = model(clip)
    assert logits.shape == expected.shape == (1, 400)
    scale = expected.abs().max()
    assert scale > 0
    assert (logits - expected).abs().max() / scale <= 1e-4
