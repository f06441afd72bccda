"""check_input runs every model's forward on a meta clip: an input the model cannot take is
refused at validation, with the model's own reason; the verdict agrees with a real forward;
a forward the meta device cannot run is accepted, and the shapes answered without torch's slow
meta references are torch's own."""

import itertools
import textwrap

import pytest
import torch
from conftest import assert_one_line_error
from torch import nn

from mtbench.registry import _ShapeShortcuts, check_input, create_model, register_model

pytestmark = pytest.mark.usefixtures("one_thread")


def real_forward_error(name: str, shape: list[int]) -> str | None:
    """The reference: the model built on real memory and run once on a clip of `shape`."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=5).eval()
    try:
        with torch.no_grad():
            out = model(torch.randn(shape))
    except RuntimeError as exc:
        return str(exc)
    assert out.shape == (shape[0], 5)
    return None


@pytest.mark.parametrize("shape", [[1, 3, 4, 32, 32], [1, 3, 8, 64, 64]])
def test_s3d_is_judged_as_its_real_forward_judges(shape):
    """s3d's last pooling window (2x7x7 after a 32x downsampling) outgrows a 4x32x32 clip."""
    why = check_input("s3d", {"num_classes": 5}, shape)
    real = real_forward_error("s3d", shape)
    if real is None:
        assert why is None
    else:
        clip = "x".join(map(str, shape))
        assert why == f"s3d rejects a {clip} clip: RuntimeError: {real.splitlines()[0]}"
        assert "Output size is too small" in why


def test_a_suite_with_an_input_its_model_cannot_take_is_one_line(tmp_path, cli_inproc):
    suite = tmp_path / "s.toml"
    suite.write_text(
        textwrap.dedent("""
        [suite]
        name = "s"
        [defaults]
        input = [1, 3, 4, 32, 32]
        measure = ["params"]
        [[models]]
        name = ["r3d-18", "s3d"]
        """)
    )
    result = cli_inproc("run", str(suite), "--dry-run")
    assert_one_line_error(
        result, "s.toml: models[0]: s3d rejects a 1x3x4x32x32 clip", "Output size is too small"
    )


def test_a_family_check_answers_before_the_forward():
    """MViT's own words (what it takes) rather than a position table's shape mismatch."""
    why = check_input("mvit-v2-s", {}, [1, 3, 8, 112, 112])
    assert why == (
        "mvit-v2-s takes only 16x224x224 clips (its position embeddings are sized for them),"
        " got 8x112x112"
    )


class ReadsValues(nn.Module):
    """A forward that branches on a value (`.item()`): meta tensors hold none."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean((2, 3, 4))
        return self.fc(pooled if pooled.abs().max().item() < 1e6 else pooled / 1e6)


class Uniques(nn.Module):
    """A forward through an operator without a meta kernel (torch.unique)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        levels = torch.unique(x.round()).numel()
        return self.fc(x.mean((2, 3, 4))) + 0 * levels


class LongComplaint(nn.Module):
    """A forward that refuses every clip with a long, two-line message."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("this clip will not do: " + "because " * 60 + "\nsecond line")


@register_model("test-reads-values", family="test-meta")
def reads_values(num_classes: int = 2) -> nn.Module:
    return ReadsValues()


@register_model("test-uniques", family="test-meta")
def uniques(num_classes: int = 2) -> nn.Module:
    return Uniques()


@register_model("test-long-complaint", family="test-meta")
def long_complaint(num_classes: int = 2) -> nn.Module:
    return LongComplaint()


@register_model("test-gru-misfit", family="test-meta")
def gru_misfit(num_classes: int = 2) -> nn.Module:
    """A GRU that expects 4 features per frame where the clip gives 3 channels."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seq = x.mean((3, 4)).permute(2, 0, 1)  # (T, B, C)
            return self.gru(seq)[1][0]

    return Net()


@pytest.mark.parametrize(
    "name", ["test-reads-values", "test-uniques"], ids=["reads a value", "no meta kernel"]
)
def test_a_forward_meta_cannot_run_is_accepted(name):
    """Meta cannot say, so validation does not refuse; the real forward runs."""
    shape = [2, 3, 4, 8, 8]
    assert check_input(name, {}, shape) is None
    with torch.no_grad():
        assert create_model(name)(torch.randn(shape)).shape == (2, 2)


def test_the_model_message_is_one_shortened_line():
    why = check_input("test-long-complaint", {}, [1, 3, 4, 8, 8])
    prefix = "test-long-complaint rejects a 1x3x4x8x8 clip: ValueError: this clip will not do:"
    assert why.startswith(prefix)
    assert why.endswith(" ...") and "\n" not in why and "second line" not in why
    assert len(why) <= len("test-long-complaint rejects a 1x3x4x8x8 clip: ") + 160


def test_a_recurrent_misfit_is_still_refused():
    why = check_input("test-gru-misfit", {}, [1, 3, 4, 8, 8])
    assert why is not None and why.startswith("test-gru-misfit rejects a 1x3x4x8x8 clip:")
    assert "input.size(-1) must be equal to input_size. Expected 4, got 3" in why


def test_a_fused_recurrent_call_that_does_not_fit_goes_to_torch():
    """torch.gru called directly (no nn.GRU check first): 3 features for a 4-feature GRU."""
    with torch.device("meta"):
        gru = nn.GRU(4, 2)
        hx = torch.empty(1, 1, 2)
        args = (gru._flat_weights, True, 1, 0.0, False, False, False)
        with _ShapeShortcuts():
            out, h = torch.gru(torch.empty(5, 1, 4), hx, *args)
            with pytest.raises(RuntimeError, match="same reduction dim"):
                torch.gru(torch.empty(5, 1, 3), hx, *args)
    assert (out.shape, h.shape) == ((5, 1, 2), (1, 1, 2))


def leaves(out) -> list[tuple]:
    return [(tuple(t.shape), t.dtype) for t in torch.utils._pytree.tree_leaves(out)]


@pytest.mark.parametrize(
    "cell, bidirectional, batch_first, proj",
    [
        (cell, bi, first, proj)
        for cell, bi, first, proj in itertools.product(
            [nn.GRU, nn.LSTM, nn.RNN], [False, True], [False, True], [0, 2]
        )
        if not proj or cell is nn.LSTM
    ],
)
def test_recurrent_shortcuts_give_torch_shapes(cell, bidirectional, batch_first, proj):
    extra = {"proj_size": proj} if proj else {}
    with torch.device("meta"):
        rnn = cell(8, 4, 2, bidirectional=bidirectional, batch_first=batch_first, **extra)
        x = torch.empty(3, 5, 8)
        reference = leaves(rnn(x))
        with _ShapeShortcuts():
            assert leaves(rnn(x)) == reference


@pytest.mark.parametrize("training", [False, True])
def test_batch_norm_shortcut_gives_torch_shape_and_layout(training):
    with torch.device("meta"):
        norm = nn.BatchNorm3d(6).train(training)
        x = torch.empty(2, 6, 3, 5, 5).to(memory_format=torch.channels_last_3d)
        reference = norm(x)
        with _ShapeShortcuts():
            got = norm(x)
    assert (got.shape, got.stride(), got.dtype) == (
        reference.shape,
        reference.stride(),
        reference.dtype,
    )
    with torch.device("meta"), _ShapeShortcuts(), pytest.raises(RuntimeError):
        norm(torch.empty(2, 5, 3, 5, 5))  # 5 channels for 6 statistics: torch refuses
