"""Fine-tuning: start from another run's weights, re-initialise a classifier whose class count
differs, and leave named parts of the network untrained."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mtbench.weights import load_checkpoint, model_state


class FinetuneError(ValueError):
    """A checkpoint or freeze list that does not fit the model: one line, names the keys."""


def classifier_name(model: nn.Module) -> str:
    """The last nn.Linear of the model: the head that maps features to classes."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise FinetuneError(f"{type(model).__name__} has no nn.Linear classifier to replace")
    return names[-1]


def load_pretrained(model: nn.Module, path: str | Path) -> list[str]:
    """Load `path` into `model`; keys of the classifier whose shape differs keep the model's
    own (fresh) initialisation. Returns those keys. Any other mismatch is an error."""
    path = Path(path)
    if not path.is_file():
        raise FinetuneError(f"train.init_from: {path}: no such checkpoint")
    try:
        state = model_state(load_checkpoint(path))
    except Exception as exc:  # torch raises several types for a file it cannot read
        raise FinetuneError(f"train.init_from: {path}: not a readable torch checkpoint") from exc
    if state is None:
        raise FinetuneError(f"train.init_from: {path}: no state_dict found in it")
    own = model.state_dict()
    head = classifier_name(model) + "."
    reinit = [
        k for k, v in state.items() if k in own and k.startswith(head) and v.shape != own[k].shape
    ]
    wrong = [
        k for k, v in state.items() if k in own and v.shape != own[k].shape and k not in reinit
    ]
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if wrong or missing or unexpected:
        first = (
            f"shape of {wrong[0]} is {tuple(state[wrong[0]].shape)}, model has"
            f" {tuple(own[wrong[0]].shape)}"
            if wrong
            else f"missing keys {missing[:3]}, unexpected keys {unexpected[:3]}"
        )
        raise FinetuneError(f"train.init_from: {path} does not fit the model: {first}")
    model.load_state_dict({k: v for k, v in state.items() if k not in reinit}, strict=False)
    return reinit


def freeze(model: nn.Module, names: list[str]) -> list[nn.Module]:
    """Stop gradients to the named submodules (dotted names as in named_modules) and return
    them, so the trainer keeps their BatchNorm statistics fixed as well."""
    modules = dict(model.named_modules())
    unknown = [n for n in names if n not in modules or not n]
    if unknown:
        top = ", ".join(n for n, _ in model.named_children())
        raise FinetuneError(f"train.freeze: no module {unknown[0]!r}; top-level modules: {top}")
    frozen = [modules[n] for n in names]
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return frozen


def hold_frozen(frozen: list[nn.Module]) -> None:
    """After model.train(): frozen parts run in eval mode (their BatchNorm stats stay put)."""
    for module in frozen:
        module.eval()


def trainable(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
