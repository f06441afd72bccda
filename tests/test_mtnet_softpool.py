"""SoftPool (paper eq. 3) against an explicit softmax over each window."""

from __future__ import annotations

import math

import pytest
import torch

from mtbench.models.softpool import SoftPool3d, soft_pool3d, window_mean

pytestmark = pytest.mark.usefixtures("one_thread")


def reference(x: torch.Tensor, kernel: tuple[int, int, int]) -> torch.Tensor:
    """Loop over windows (ceil mode): softmax of the window's values, weighted sum."""
    b, c = x.shape[:2]
    k = [min(k, n) for k, n in zip(kernel, x.shape[2:], strict=True)]
    size = [math.ceil(n / kk) for n, kk in zip(x.shape[2:], k, strict=True)]
    out = torch.empty(b, c, *size, dtype=x.dtype)
    for i in range(size[0]):
        for j in range(size[1]):
            for m in range(size[2]):
                window = x[
                    :,
                    :,
                    i * k[0] : (i + 1) * k[0],
                    j * k[1] : (j + 1) * k[1],
                    m * k[2] : (m + 1) * k[2],
                ].reshape(b, c, -1)
                out[:, :, i, j, m] = (torch.softmax(window, dim=-1) * window).sum(-1)
    return out


CASES = [
    ((2, 3, 4, 6, 8), (2, 2, 2)),
    ((1, 2, 5, 7, 9), (2, 2, 2)),  # odd sizes: partial windows at the end
    ((1, 2, 3, 6, 5), (1, 2, 2)),  # the stem's 1x2x2
    ((1, 1, 1, 3, 3), (2, 2, 2)),  # T = 1 under a temporal window
]


@pytest.mark.parametrize(("shape", "kernel"), CASES)
def test_matches_softmax_reference_float64(shape, kernel):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 5
    out = soft_pool3d(x, kernel)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, reference(x, kernel), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_finite_and_exact_at_large_activations(dtype):
    torch.manual_seed(0)
    x = torch.randint(-1, 2, (1, 2, 4, 6, 6)).to(dtype) * 200 + torch.randn(1, 2, 4, 6, 6)
    x[0, 0] = 200.0  # whole windows at +200: the naive exp(200) overflows in float32
    x[0, 1, :2] = -200.0
    out = soft_pool3d(x, (2, 2, 2))
    assert torch.isfinite(out).all()
    expected = reference(x.double(), (2, 2, 2)).to(dtype)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-4)


def test_gradient_is_autograd_of_the_formula():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 3, 5, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: soft_pool3d(t, (2, 2, 2)), (x,))
    grad = torch.randn(1, 2, 2, 3, 2, dtype=torch.float64)
    (ours,) = torch.autograd.grad(soft_pool3d(x, (2, 2, 2)), x, grad)
    (ref,) = torch.autograd.grad(reference(x, (2, 2, 2)), x, grad)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)


def test_input_dtype_under_autocast():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 2, 4, 4) * 50
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = SoftPool3d((1, 2, 2))(x)
        low = soft_pool3d(x.bfloat16(), (1, 2, 2))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, reference(x.double(), (1, 2, 2)).float())
    assert low.dtype == torch.bfloat16  # computed and returned in the input's dtype
    torch.testing.assert_close(
        low.float(), reference(x.bfloat16().double(), (1, 2, 2)).float(), rtol=1e-2, atol=0.5
    )


@pytest.mark.parametrize("shape", [(1, 2, 4, 6, 8), (2, 3, 5, 7, 9), (1, 1, 1, 3, 2)])
@pytest.mark.parametrize("kernel", [(1, 2, 2), (2, 2, 2)])
def test_window_mean_equals_ceil_mode_avg_pool(shape, kernel):
    x = torch.randn(shape, dtype=torch.float64)
    k = tuple(min(a, n) for a, n in zip(kernel, shape[2:], strict=True))
    expected = torch.nn.functional.avg_pool3d(x, k, k, ceil_mode=True)
    torch.testing.assert_close(window_mean(x, kernel), expected, rtol=0, atol=1e-12)
