"""Equal before timed: a runtime's logits against PyTorch eager float32 on one fixed clip.

The figure is the largest absolute difference over the largest absolute logit, so it reads
the same whatever the logits' scale. The thresholds: float32 arithmetic in another order
(fused kernels, other reductions) stays far below 1e-4 (measured: 6.6e-7 for ONNX Runtime,
1.2e-6 for OpenVINO at f32); a bfloat16 mantissa holds 8 bits (relative step 3.9e-3), so a
whole network's accumulated rounding is allowed 5e-2; float16 (11 bits) 1e-2.
"""

from __future__ import annotations

import numpy as np
import torch

THRESHOLDS = {"float32": 1e-4, "bfloat16": 5e-2, "float16": 1e-2}
CLIP_SEED = 1234  # the fixed clip: the same for every cell of a shape


def fixed_clip(shape: list[int]) -> torch.Tensor:
    """The equality clip: standard normal values from a fixed seed, float32 on the CPU."""
    return torch.randn(shape, generator=torch.Generator().manual_seed(CLIP_SEED))


def relative_difference(reference: np.ndarray, output: np.ndarray) -> float:
    """max |output - reference| / max |reference| (0 for two all-zero outputs)."""
    if reference.shape != output.shape:
        raise RuntimeError(f"outputs have shape {output.shape}, PyTorch's {reference.shape}")
    scale = float(np.abs(reference).max())
    diff = float(np.abs(output.astype(np.float64) - reference.astype(np.float64)).max())
    return diff / scale if scale > 0 else diff


def check_equal(figure: float, dtype: str) -> None:
    """Raise, with the figure, when the outputs differ beyond the dtype's threshold."""
    if not figure <= THRESHOLDS[dtype]:  # NaN fails too
        raise RuntimeError(
            f"outputs differ from PyTorch eager float32 by {figure:.3g} of the largest logit"
            f" (threshold {THRESHOLDS[dtype]:g} at {dtype})"
        )
