"""A user's models for the runtime tests, registered through a suite's `imports`: a small
attention network, a small convolutional one, a recurrent one, one whose exported graph differs
from its eager one, and one with an operator that ONNX has no translation for."""

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mtbench.registry import list_models, register_model


def _shift(x: Tensor) -> Tensor:
    """An operator of the user's own, with no ONNX translation."""
    return x + 1


if not hasattr(torch.ops.mtbench_test, "shift"):  # a second import of this file
    torch.library.custom_op("mtbench_test::shift", mutates_args=())(_shift).register_fake(
        lambda x: torch.empty_like(x)
    )


class TinyAttention(nn.Module):
    """Patch embedding, one self-attention block (scaled dot-product), mean pool, head."""

    def __init__(self, num_classes: int, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.embed = nn.Conv3d(3, dim, (2, 8, 8), stride=(2, 8, 8))
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2)  # (B, N, dim)
        b, n, dim = tokens.shape
        qkv = self.qkv(self.norm(tokens)).reshape(b, n, 3, self.heads, dim // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, dim)
        return self.head((tokens + self.proj(attended)).mean(1))


class Pooled(nn.Module):
    """A convolution, global pooling and a head; `how` bends the exported path."""

    def __init__(self, num_classes: int, how: str) -> None:
        super().__init__()
        self.how = how
        self.conv = nn.Conv3d(3, 8, 3, padding=1)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        features = self.conv(x)
        if self.how == "custom-op":
            features = torch.ops.mtbench_test.shift(features)
        logits = self.head(features.mean((2, 3, 4)))
        if self.how == "wrong" and torch.compiler.is_exporting():
            logits = logits * 1.01  # the exported graph computes something else
        return logits


class Recurrent(nn.Module):
    """A convolution, the frames squeezed to vectors, a two-layer GRU over them, a head on the
    last frame's state: a recurrent layer as MTNet's Squeeze and Recursion has one."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3, padding=1)
        self.gru = nn.GRU(8, 12, num_layers=2, batch_first=True)
        self.head = nn.Linear(12, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        frames = self.conv(x).mean((3, 4)).transpose(1, 2)  # (B, T, 8)
        return self.head(self.gru(frames)[0][:, -1])


if "test-attention" not in list_models():

    @register_model("test-attention", family="test")
    def attention(num_classes: int = 5, dim: int = 16, heads: int = 2) -> nn.Module:
        return TinyAttention(num_classes, dim, heads)

    @register_model("test-recurrent", family="test")
    def recurrent(num_classes: int = 5) -> nn.Module:
        return Recurrent(num_classes)

    @register_model("test-wrong-export", family="test")
    def wrong_export(num_classes: int = 5) -> nn.Module:
        return Pooled(num_classes, "wrong")

    @register_model("test-pooled", family="test")
    def pooled(num_classes: int = 5) -> nn.Module:
        return Pooled(num_classes, "plain")

    @register_model("test-custom-op", family="test")
    def custom_op(num_classes: int = 5) -> nn.Module:
        return Pooled(num_classes, "custom-op")
