"""GFLOPs against the published counts, for one representative per counting convention.

Each count is a real forward pass at the reference input, so CI checks four rows: R3D-18
(torchvision's exact `_ops`, norm not counted), SlowFast R50 8x8 (PySlowFast's zoo,
counted at 32x256x256 with BatchNorm as zero), and Table 4's TSM and MF-Net (their papers).
X3D's counts are checked against PyTorchVideo's builder in `test_baselines_x3d.py`.
`benchmarks/baselines_zoo.py` checks every row.
"""

from __future__ import annotations

import pytest
import torch

from baselines.reference import GFLOPS_TOLERANCE, load_reference
from mtbench.measure.flops import count_flops
from mtbench.registry import create_model

CI_ROWS = {"r3d-18", "slowfast-r50[setting=8x8]", "tsm-r50", "mfnet"}
ROWS = [r for r in load_reference() if r.label in CI_ROWS]


def test_ci_rows_exist() -> None:
    assert {r.label for r in ROWS} == CI_ROWS


@pytest.mark.parametrize("ref", ROWS, ids=lambda r: r.label)
def test_gflops_match_reference(ref) -> None:
    model = create_model(ref.model, num_classes=ref.num_classes, **ref.kwargs).eval()
    count = count_flops(model, ref.input_shape, count_norm=ref.count_norm)
    assert count.skipped_ops == []
    assert abs(count.gflops - ref.gflops) / ref.gflops <= GFLOPS_TOLERANCE, count.gflops


def test_count_norm_is_an_explicit_option() -> None:
    """The difference is exactly the norm layers' count: fvcore's convention for an affine
    BatchNorm in eval mode is two FLOPs per input element (scale and shift)."""
    model = create_model("r3d-18").eval()
    norm_inputs = []
    hooks = [
        m.register_forward_hook(lambda m, args, out: norm_inputs.append(args[0].numel()))
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm3d)
    ]
    with torch.no_grad():
        model(torch.zeros(1, 3, 8, 56, 56))
    for hook in hooks:
        hook.remove()
    with_norm = count_flops(model, (1, 3, 8, 56, 56)).gflops
    without = count_flops(model, (1, 3, 8, 56, 56), count_norm=False).gflops
    assert (with_norm - without) * 1e9 == pytest.approx(2 * sum(norm_inputs), rel=1e-9)
