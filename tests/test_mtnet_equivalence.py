"""MTNet's outputs equal those of the implementation before the speed work (issue 11).

`fixtures/mtnet_reference.json` holds float64 logits (exact in JSON) computed by the MTNet
code of commit d780715, before any change to its arithmetic, for the configurations below.
Weights are set by parameter name (not by creation order), so a module that is built in a
different order but keeps its state_dict keys gets the same weights. Regenerate only from
that commit: `python tests/test_mtnet_equivalence.py`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from mtbench.registry import create_model

pytestmark = pytest.mark.usefixtures("one_thread")

REFERENCE = Path(__file__).parent / "fixtures" / "mtnet_reference.json"
SHAPE = (2, 3, 6, 40, 40)
CONFIGS: dict[str, tuple[str, dict]] = {
    "mtnet-32": ("mtnet-32", {}),
    "mtnet-32 g=8": ("mtnet-32", {"g": 8}),
    "mtnet-32 r=1": ("mtnet-32", {"r": 1.0}),
    "mtnet-32 code": (
        "mtnet-32",
        {
            "long_temporal": "keep",
            "stem_pool": "max",
            "lateral_pool": "avg",
            "lateral_norm": "shared",
            "g": 2,
            "substream_norm": "group",
        },
    ),
    "mtnet-32 select lstm": (
        "mtnet-32",
        {
            "long_temporal": "select",
            "stem_temporal": "select",
            "sr_cell": "lstm",
            "sr_gate": "sigmoid",
            "lateral_pool": "softpool",
        },
    ),
}


def set_weights_by_name(model: nn.Module) -> None:
    """Every parameter and float buffer from a generator seeded by its name."""
    with torch.no_grad():
        for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
            if not tensor.is_floating_point():
                continue
            seed = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
            gen = torch.Generator().manual_seed(seed)
            values = torch.rand(tensor.shape, generator=gen, dtype=torch.float64)
            if name.endswith("running_var") or name.endswith(".weight") and tensor.dim() == 1:
                tensor.copy_(0.5 + values)  # norm scales and variances: positive, near 1
            else:
                fan_in = tensor[0].numel() if tensor.dim() > 1 else tensor.numel()
                tensor.copy_((values - 0.5) * 2 * (3 / fan_in) ** 0.5)


def outputs(label: str) -> dict[str, torch.Tensor]:
    """Eval logits and train-mode logits (batch statistics) of one configuration."""
    name, kwargs = CONFIGS[label]
    model = create_model(name, num_classes=5, **kwargs).double()
    set_weights_by_name(model)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    with torch.no_grad():
        return {"eval": model.eval()(x), "train": model.train()(x)}


@pytest.mark.parametrize("label", list(CONFIGS))
def test_outputs_equal_the_pre_change_implementation(label):
    expected = json.loads(REFERENCE.read_text())[label]
    got = outputs(label)
    for mode in ("eval", "train"):
        reference = torch.tensor(expected[mode], dtype=torch.float64)
        torch.testing.assert_close(got[mode], reference, rtol=1e-9, atol=1e-9)


if __name__ == "__main__":
    torch.set_num_threads(1)
    logits = {label: {k: v.tolist() for k, v in outputs(label).items()} for label in CONFIGS}
    REFERENCE.write_text(json.dumps(logits, indent=1) + "\n")
