"""Every baseline trains on the common small clip; SlowFast forms its pathways from one clip.

Forward + backward at 1x3x8x112x112. On CI's two cores the deep variants (same code as their
shallowest sibling, more blocks) cost minutes, so CI runs one model per code path and
MTBENCH_FULL_ZOO=1 runs the whole zoo; canonical inputs: `benchmarks/baselines_zoo.py --train`.
"""

from __future__ import annotations

import os

import pytest
import torch

from baselines.reference import BASELINE_FAMILIES
from mtbench.registry import create_model, list_models

BASELINES = [name for family in BASELINE_FAMILIES for name in list_models(family)]
NUM_CLASSES = 10
# One model per code path (block type, conv maker, stem, definition); the rest only add blocks.
CI_SUBSET = {"r3d-18", "s3d", "i3d", "ipcsn-50", "slowfast-r50", "tsm-r50", "mfnet", "x3d-xs"}
FULL_ZOO = os.environ.get("MTBENCH_FULL_ZOO") == "1"


def train_step(model: torch.nn.Module, clip: torch.Tensor) -> torch.Tensor:
    logits = model(clip)
    logits.logsumexp(dim=1).sum().backward()
    return logits


@pytest.mark.parametrize("name", BASELINES)
def test_forward_backward_small_clip(name: str) -> None:
    if name not in CI_SUBSET and not FULL_ZOO:
        pytest.skip("deep variant of a CI-tested code path; MTBENCH_FULL_ZOO=1 runs it")
    torch.manual_seed(0)
    model = create_model(name, num_classes=NUM_CLASSES)
    logits = train_step(model, torch.randn(1, 3, 8, 112, 112))
    assert logits.shape == (1, NUM_CLASSES)
    assert torch.isfinite(logits).all()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("r3d-18", {"definition": "3d-resnets"}),
        ("r2plus1d-50", {"definition": "pytorchvideo"}),
        ("srtg-r2plus1d-50", {"gates": True}),
    ],
)
def test_forward_backward_variants(name: str, kwargs: dict) -> None:
    model = create_model(name, num_classes=NUM_CLASSES, **kwargs)
    assert train_step(model, torch.randn(1, 3, 8, 112, 112)).shape == (1, NUM_CLASSES)


@pytest.mark.parametrize(("setting", "alpha"), [("8x8", 4), ("4x16", 8)])
def test_slowfast_rejects_clip_length_not_divisible_by_alpha(setting: str, alpha: int) -> None:
    model = create_model("slowfast-r50", num_classes=NUM_CLASSES, setting=setting)
    with pytest.raises(ValueError, match=f"divisible by {alpha}"):
        model(torch.randn(1, 3, alpha + 2, 32, 32))


def test_slowfast_slow_path_sees_every_alpha_th_frame() -> None:
    model = create_model("slowfast-r50", num_classes=NUM_CLASSES).eval()
    seen: dict[str, int] = {}

    def record(path: str):
        def hook(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            seen[path] = inputs[0].shape[2]

        return hook

    model.slow_stem.register_forward_hook(record("slow"))
    model.fast_stem.register_forward_hook(record("fast"))
    with torch.no_grad():
        model(torch.randn(1, 3, 16, 32, 32))
    assert seen == {"slow": 4, "fast": 16}
