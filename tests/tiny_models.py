"""The test-only models, registered once for the whole suite by conftest.py (and by
`python tests/mtbench_tiny.py ...` in a subprocess: SIGKILL, torchrun): small real video
classifiers and one that fails on its first real forward."""

import checkpoint_hold  # noqa: F401  (MTBENCH_TEST_HOLD_EPOCH in a run this module is part of)
from torch import nn

from mtbench.registry import list_models, register_model

if "test-tiny3d" not in list_models():

    @register_model("test-tiny3d", family="test")
    def tiny3d(num_classes: int = 10, width: int = 8) -> nn.Module:
        """Two 3D conv blocks with BatchNorm, dropout and a linear head: every state a
        checkpoint must carry (weights, running stats, momentum, RNG for dropout)."""
        return nn.Sequential(
            nn.Conv3d(3, width, 3, padding=1, bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(),
            nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(width, 2 * width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
            nn.Dropout(0.2),
            nn.Linear(2 * width, num_classes),
        )


class Exploding(nn.Module):
    """Fails at run time only (as an out-of-memory would): validation's meta forward passes."""

    def forward(self, x):
        if x.is_meta:
            return x.new_empty(x.shape[0], 10)
        raise RuntimeError("boom in forward\nsecond line")


if "test-tiny" not in list_models():

    @register_model("test-exploding", family="test")
    def exploding(num_classes: int = 10) -> nn.Module:
        """Builds, then fails on its first forward pass on real tensors."""
        return Exploding()

    @register_model("test-tiny", family="test")
    def tiny(num_classes: int = 10, width: int = 4) -> nn.Module:
        """A real, cheap video classifier."""
        return nn.Sequential(
            nn.Conv3d(3, width, 3, padding=1),
            nn.AdaptiveAvgPool3d(1),
            nn.Flatten(),
            nn.Linear(width, num_classes),
        )


# Hugging Face video transformers at a size a test builds in milliseconds.
TINY_VIT = {
    "num_frames": 4,
    "image_size": 16,
    "patch_size": 8,
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "num_classes": 3,
}
