"""SoftPool (paper eq. 3): each window pooled to the softmax-weighted average of its values.

    out = sum_i exp(a_i) * a_i / sum_j exp(a_j)        over the elements i, j of one window

Written in plain PyTorch so that autograd gives the true gradient. The official SoftPool
package is not used: its CPU path sums the exponentials over channels and clamps outputs to
be non-negative, and its 3D CUDA kernel indexes wrongly.

Two choices keep it exact, stable and fast:
- The weights are a softmax over each window: PyTorch's softmax subtracts the window's
  maximum before the exponential (the naive form overflows in float32 near activations of
  90), and its gradient is that of the formula above, not of the shift.
- The elements of each window are gathered along a new leading dimension, after which the
  softmax, the product and the window sum are contiguous kernels over it: several times
  faster on CPU than max / average pooling kernels. FLOP counters see a softmax and an
  elementwise product (free by the FLOP convention) and one window sum.

Windows do not overlap (stride = kernel, the only use in the paper), so every element has
one window maximum. A trailing partial window is pooled over the elements it holds (ceil
mode), which gives ceil(n / k) outputs per dimension, the same as the 1x3x3 stride-2 padded
max pool of the authors' stem.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _triple(value: int | tuple[int, int, int]) -> tuple[int, int, int]:
    return (value, value, value) if isinstance(value, int) else tuple(value)  # type: ignore[return-value]


def _stack_windows(x: Tensor, kernel: tuple[int, int, int]) -> Tensor:
    """(k_t k_h k_w, B, C, T', H', W'): the elements of each window along a new leading
    dimension (sizes divisible by the kernel). One copy, after which every op is contiguous
    and vectorised; on strided views they were not."""
    b, c, t, h, w = x.shape
    kt, kh, kw = kernel
    grid = x.view(b, c, t // kt, kt, h // kh, kh, w // kw, kw)
    return grid.permute(3, 5, 7, 0, 1, 2, 4, 6).reshape(
        kt * kh * kw, b, c, t // kt, h // kh, w // kw
    )


def soft_pool3d(x: Tensor, kernel_size: int | tuple[int, int, int]) -> Tensor:
    """SoftPool over non-overlapping windows of a (B, C, T, H, W) tensor, ceil mode.

    Computed in the input's dtype, returned in it: with each window's maximum subtracted the
    weights lie in (0, 1] and their sum in [1, window size], so half precision neither
    overflows nor underflows (an upcast to float32 made bfloat16 MTNets slower than float32
    ones). Under autocast, the ops it lifts to float32 (exp and sum on CUDA) run in float32.
    """
    # A window larger than the tensor (T = 1 under a 2x2x2 window) covers all of it.
    kernel = tuple(min(k, n) for k, n in zip(_triple(kernel_size), x.shape[2:], strict=True))
    # Ceil mode: pad each dimension to a multiple of its kernel. Padding is -inf for the
    # exponent (weight exactly 0) and 0 for the values (so 0 * value stays 0).
    pad = [p for k, n in zip(kernel[::-1], x.shape[:1:-1], strict=True) for p in (0, -n % k)]
    if any(pad):
        exponent = _stack_windows(F.pad(x, pad, value=-math.inf), kernel)
        values = _stack_windows(F.pad(x, pad), kernel)
    else:
        exponent = values = _stack_windows(x, kernel)
    # Softmax over the window dimension: the maximum's shift, exponential and normalisation
    # in one kernel (four passes over the windows where they took seven), exact gradient.
    return (torch.softmax(exponent, dim=0) * values).sum(dim=0).to(x.dtype)


def window_mean(x: Tensor, kernel: tuple[int, int, int]) -> Tensor:
    """Average pooling over non-overlapping windows of 1 or 2 per dimension, ceil mode (a
    trailing partial window averages the element it holds), as pairwise means of strided
    views: about four times faster on CPU than avg_pool3d, which it equals."""
    for dim, k in enumerate(kernel, start=2):
        n = x.shape[dim]
        if k == 1 or n == 1:
            continue
        if k != 2:
            raise ValueError(f"window_mean pools windows of 1 or 2, got {k}")
        pairs = x.narrow(dim, 0, n - n % 2).unflatten(dim, (n // 2, 2))
        mean = torch.lerp(pairs.select(dim + 1, 0), pairs.select(dim + 1, 1), 0.5)
        x = torch.cat([mean, x.narrow(dim, n - 1, 1)], dim) if n % 2 else mean
    return x


class SoftPool3d(nn.Module):
    """Module form of `soft_pool3d`; non-overlapping windows of `kernel_size` (T, H, W)."""

    def __init__(self, kernel_size: int | tuple[int, int, int]) -> None:
        super().__init__()
        self.kernel_size = _triple(kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return soft_pool3d(x, self.kernel_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}"
