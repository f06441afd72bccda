import math

import pytest
import torch
from torch import nn
from torchvision.models import video as tvv

from mtbench.measure.flops import count_flops
from mtbench.measure.params import count_params
from mtbench.registry import create_model

# torchvision's own metadata is the independent reference: num_params and _ops (GFLOPs, one
# multiply-add = one FLOP) at the input its metadata refers to.
REFERENCES = [
    ("r3d-18", tvv.R3D_18_Weights.KINETICS400_V1, (1, 3, 16, 112, 112)),
    ("mc3-18", tvv.MC3_18_Weights.KINETICS400_V1, (1, 3, 16, 112, 112)),
    ("r2plus1d-18", tvv.R2Plus1D_18_Weights.KINETICS400_V1, (1, 3, 16, 112, 112)),
    ("s3d", tvv.S3D_Weights.KINETICS400_V1, (1, 3, 16, 224, 224)),
]


@pytest.mark.parametrize("name,weights,shape", REFERENCES, ids=[r[0] for r in REFERENCES])
def test_params_equal_torchvision_metadata(name, weights, shape):
    with torch.device("meta"):
        model = create_model(name)
    total, trainable = count_params(model)
    assert total == weights.meta["num_params"]
    assert trainable == total


@pytest.mark.parametrize("name,weights,shape", REFERENCES, ids=[r[0] for r in REFERENCES])
def test_gflops_match_torchvision_metadata_and_counters_agree(name, weights, shape):
    flops = count_flops(create_model(name), shape)
    assert flops.gflops == pytest.approx(weights.meta["_ops"], rel=0.01)
    assert flops.rel_diff < 0.05
    assert flops.gflops_ptflops == pytest.approx(flops.gflops, rel=0.05)
    assert flops.skipped_ops == []


def test_count_norm_false_drops_exactly_the_norm_flops():
    model = nn.Sequential(
        nn.Conv3d(3, 8, 3, padding=1, bias=False),
        nn.BatchNorm3d(8),
        nn.Conv3d(8, 8, 1, bias=False),
        nn.GroupNorm(2, 8),
    )
    shape = (1, 3, 4, 16, 16)
    positions = 4 * 16 * 16
    convs = positions * 8 * (3 * 27 + 8)  # no conv bias: ptflops would add one per output
    with_norm = count_flops(model, shape)
    without = count_flops(model, shape, count_norm=False)
    # fvcore's rule: eval batch norm 2 per element, affine group norm 5 per element.
    assert without.gflops * 1e9 == pytest.approx(convs)
    assert with_norm.gflops * 1e9 == pytest.approx(convs + 2 * 8 * positions + 5 * 8 * positions)
    assert without.gflops_ptflops == pytest.approx(without.gflops, rel=1e-6)
    assert with_norm.gflops_ptflops == pytest.approx(with_norm.gflops, rel=1e-6)


class Recurrent(nn.Module):
    """A GRU and an LSTM over a (B, T, C) sequence, and an average pool: fvcore counts none."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(64, 48, num_layers=2, batch_first=True)
        self.lstm = nn.LSTM(64, 32, num_layers=1)
        self.pool = nn.AvgPool3d((1, 2, 2))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        pooled = self.pool(x.reshape(x.shape[0], 1, 5, 8, 8))
        return self.gru(x)[0], self.lstm(x)[0], pooled


def test_recurrent_cells_and_pooling_are_counted_by_registered_handlers():
    batch, steps = 3, 5
    flops = count_flops(Recurrent(), (batch, steps, 64))
    gru = steps * 3 * ((64 * 48 + 48 * 48) + (48 * 48 + 48 * 48))
    lstm = steps * 4 * (64 * 32 + 32 * 32)
    pool = 5 * 8 * 8  # one add per element read
    assert flops.skipped_ops == []
    assert flops.gflops * 1e9 == pytest.approx(gru + lstm + pool, abs=0.5)
    # ptflops sees the same GRU as the matrix products it decomposes into (plus bias adds).
    assert flops.rel_diff < 0.05


class Exotic(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.special.erf(x).sum() + torch.fft.rfft(x).abs().sum()


def test_operators_nobody_counts_are_listed_not_dropped():
    flops = count_flops(Exotic(), (1, 8))
    assert any("erf" in op for op in flops.skipped_ops)
    assert math.isfinite(flops.gflops)


class Distances(nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        d = torch.cdist(x, x)
        return d.argmin(-1), d.all()


@pytest.mark.parametrize("points", [5, 40])  # past 25 points torch takes a matmul path
def test_pairwise_distances_are_counted_by_both_counters(points):
    flops = count_flops(Distances(), (2, points, 16))
    assert flops.gflops * 1e9 == pytest.approx(points * points * 16)
    assert flops.gflops_ptflops == pytest.approx(flops.gflops)
    assert flops.skipped_ops == []


class SoftWeighted(nn.Module):
    """SoftPool's arithmetic in plain ops: two window sums and an interpolation."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = torch.exp(x - x.amax(dim=-1, keepdim=True))
        pooled = (weight * x).sum(dim=-1) / weight.sum(dim=-1)
        return torch.lerp(pooled, x.mean(dim=-1), 0.5)


def test_reductions_and_interpolation_are_counted_by_both_counters():
    flops = count_flops(SoftWeighted(), (2, 6, 10))
    # two sums and a mean each read 6 x 10 elements; lerp writes 6 outputs
    assert flops.gflops * 1e9 == pytest.approx(3 * 60 + 6)
    assert flops.gflops_ptflops == pytest.approx(flops.gflops)
    assert flops.skipped_ops == []
