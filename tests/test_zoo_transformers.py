"""Video transformers of torchvision and Hugging Face in the zoo: torchvision's reference numbers,
GFLOPs that count attention whichever kernel runs it, and a tiny VideoMAE trained by a suite."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from plugin_files import SUITE
from tiny_models import TINY_VIT
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from mtbench.measure.flops import count_flops
from mtbench.registry import create_model, list_models


def test_every_torchvision_video_model_is_in_the_zoo():
    listed = torchvision.models.list_models(module=torchvision.models.video)
    assert {n.replace("_", "-") for n in listed} <= set(list_models())


@pytest.mark.parametrize(
    "name", ["mvit-v1-b", "mvit-v2-s", "swin3d-t", "swin3d-s", "swin3d-b", "mc3-18", "s3d"]
)
def test_torchvision_params_are_its_metadata(name):
    weights = torchvision.models.get_model_weights(name.replace("-", "_")).DEFAULT
    with torch.device("meta"):
        model = create_model(name)
    assert sum(p.numel() for p in model.parameters()) == weights.meta["num_params"]


def dispatch_macs(model: nn.Module, shape) -> float:
    """torch's own dispatch-level counter: its FLOPs / 2 are torchvision's `_ops`."""
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.randn(shape))
    return counter.get_total_flops() / 2 / 1e9


def test_swin3d_gflops_at_a_small_input_agree_with_torchs_counter():
    model = create_model("swin3d-t").eval()
    count = count_flops(model, [1, 3, 4, 64, 64], count_norm=False)
    assert count.skipped_ops == []
    assert count.gflops == pytest.approx(dispatch_macs(model, (1, 3, 4, 64, 64)), rel=0.01)
    assert count.gflops_ptflops == pytest.approx(count.gflops, rel=0.01)


@pytest.mark.slow
def test_mvit_v2_s_gflops_at_its_input_are_torchvisions_ops():
    """MViT only takes 16x224x224 (its embeddings are sized for it): the meta's own input."""
    ops = torchvision.models.video.MViT_V2_S_Weights.DEFAULT.meta["_ops"]
    count = count_flops(create_model("mvit-v2-s"), [1, 3, 16, 224, 224], count_norm=False)
    assert count.skipped_ops == []
    assert count.gflops == pytest.approx(ops, rel=0.01)
    assert count.gflops_ptflops == pytest.approx(ops, rel=0.01)


class Attention(nn.Module):
    """Patch embedding, one 4-head attention block, a linear head; explicit or fused attention."""

    def __init__(self, fused: bool, dim: int = 32, heads: int = 4) -> None:
        super().__init__()
        self.fused, self.heads = fused, heads
        self.embed = nn.Conv3d(3, dim, (1, 4, 4), (1, 4, 4))
        self.qkv, self.head = nn.Linear(dim, 3 * dim), nn.Linear(dim, 5)

    def forward(self, x):
        x = self.embed(x).flatten(2).transpose(1, 2)
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        if self.fused:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = ((q @ k.transpose(-2, -1)) * (c // self.heads) ** -0.5).softmax(-1) @ v
        return self.head(out.transpose(1, 2).reshape(b, n, c).mean(1))


def test_fused_attention_counts_its_two_products_in_both_counters():
    shape = [1, 3, 4, 32, 32]
    explicit = count_flops(Attention(fused=False), shape)
    fused = count_flops(Attention(fused=True), shape)
    assert fused.gflops == pytest.approx(explicit.gflops, rel=1e-3)
    assert fused.gflops_ptflops == pytest.approx(explicit.gflops_ptflops, rel=1e-3)
    tokens, dim = 4 * 8 * 8, 32
    attention = 2 * tokens * tokens * dim  # Q K^T and weights x V, summed over 4 heads
    assert fused.by_operator["scaled_dot_product_attention"] * 1e9 == pytest.approx(attention)
    assert explicit.by_operator["matmul"] * 1e9 == pytest.approx(attention)


@pytest.mark.parametrize("name", ["videomae-s", "vivit-b"])
def test_hugging_face_eager_and_sdpa_count_the_same(name):
    counts = [
        count_flops(create_model(name, attn_implementation=attn, **TINY_VIT), [1, 3, 4, 16, 16])
        for attn in ("eager", "sdpa")
    ]
    for counter in ("gflops", "gflops_ptflops"):
        eager, sdpa = (getattr(c, counter) for c in counts)
        assert sdpa == pytest.approx(eager, rel=1e-3), counter
    assert all(c.skipped_ops == [] for c in counts)


def test_hugging_face_models_take_clips_and_return_logits():
    for name in ("videomae-s", "timesformer-b", "vivit-b"):
        out = create_model(name, **TINY_VIT)(torch.randn(2, 3, 4, 16, 16))
        assert out.shape == (2, 3), name


def test_hugging_face_weights_load_from_a_save_pretrained_folder(tmp_path):
    source = create_model("videomae-s", **TINY_VIT)
    source.model.save_pretrained(tmp_path / "ckpt")
    loaded = create_model("videomae-s", weights=str(tmp_path / "ckpt"), **TINY_VIT).eval()
    clip = torch.randn(1, 3, 4, 16, 16)
    assert torch.equal(source.eval()(clip), loaded(clip))
    wider = {**TINY_VIT, "hidden_size": 64}
    with pytest.raises(ValueError, match="does not fit"):
        create_model("videomae-s", weights=str(tmp_path / "ckpt"), **wider)
    with pytest.raises(ValueError, match="without model.safetensors or pytorch_model.bin"):
        create_model("videomae-s", weights=str(tmp_path), **TINY_VIT)
    torch.save(source.model.state_dict(), tmp_path / "state.pt")
    from_file = create_model("videomae-s", weights=str(tmp_path / "state.pt"), **TINY_VIT).eval()
    assert torch.equal(source(clip), from_file(clip))


@pytest.mark.slow
def test_a_tiny_videomae_trains_and_evaluates_in_a_suite(tmp_path):
    from conftest import run_one_cell

    kwargs = "\n".join(f"{k} = {v}" for k, v in TINY_VIT.items() if k != "num_classes")
    suite = tmp_path / "vit.toml"
    # 3 classes x 4 videos in one batch of 12: one training step
    body = SUITE.format(imports="", model="videomae-s").replace(
        "batch_size = 4\nlr", "batch_size = 12\nlr"
    )
    suite.write_text(body + kwargs + "\n")
    record = run_one_cell(suite, tmp_path / "out")
    assert len(record["train_curve"]) == 1 and record["num_test_scored"] == 6
    assert record["final_train_loss"] > 0
    assert record["top1"] is not None and record["flops_skipped_ops"] == []
