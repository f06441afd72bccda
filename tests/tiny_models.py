"""A small real video classifier for tests that run mtbench in a subprocess (SIGKILL, torchrun):
`python tests/mtbench_tiny.py ...` registers it, then runs the CLI unchanged."""

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
