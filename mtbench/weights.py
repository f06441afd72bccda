"""Loading checkpoints into any model: formats, key maps, one-line errors.

A builder's `weights` keyword names a file; its format is detected from its contents:

* PyTorchVideo / PySlowFast `.pyth`: a dict whose `model_state` holds the state_dict;
* mtbench's own training checkpoints: a dict whose `model` holds the state_dict;
* a bare state_dict (torchvision's `.pth` files, `torch.save(model.state_dict())`);
* a folder written by Hugging Face's `save_pretrained` (`model.safetensors` or
  `pytorch_model.bin`).

A `module.` prefix (a model saved from inside DistributedDataParallel) is dropped. Each family
states its key correspondence once, as ordered (pattern, replacement) rules from the source's
names to ours (the baselines' tables live in `baselines.weights`, MTNet's beside it); keys no
rule matches pass unchanged. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mtbench.errors import ModelConfigError

Replacement = str | Callable[[re.Match[str]], str]
KeyRules = Sequence[tuple[str, Replacement]]
# Where a checkpoint keeps its state_dict: PySlowFast/PyTorchVideo, mtbench, common practice.
STATE_DICT_KEYS = ("model_state", "model", "state_dict")


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=True)


def model_state(checkpoint: Any) -> dict[str, torch.Tensor] | None:
    """The state_dict inside a loaded checkpoint of any supported format (under one of
    STATE_DICT_KEYS, or bare), without DDP's `module.` prefix; None when it holds none."""
    if isinstance(checkpoint, dict):
        for key in STATE_DICT_KEYS:
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, dict) or not all(
        isinstance(v, torch.Tensor) for v in checkpoint.values()
    ):
        return None
    return {k.removeprefix("module."): v for k, v in checkpoint.items()}


def map_key(key: str, rules: KeyRules) -> str:
    """One key renamed by applying each rule in order (a rule rewrites, later rules see it)."""
    for pattern, replacement in rules:
        key = re.sub(pattern, replacement, key)
    return key


def map_keys(state: dict[str, Tensor], rules: KeyRules) -> dict[str, Tensor]:
    """Every key of `state` renamed by `map_key`."""
    return {map_key(key, rules): value for key, value in state.items()}


PRETRAINED_FILES = ("model.safetensors", "pytorch_model.bin")


def _pretrained_file(folder: Path) -> Path:
    """The weights file in a `save_pretrained` folder."""
    for name in PRETRAINED_FILES:
        if (folder / name).is_file():
            return folder / name
    raise ModelConfigError(
        f"weights={str(folder)!r}: a folder without {' or '.join(PRETRAINED_FILES)}"
        " (expected one written by save_pretrained)",
        key="weights",
    )


def read_state_dict(path: str | Path) -> dict[str, Tensor]:
    """The state_dict inside a checkpoint file of any supported format."""
    path = Path(path)
    if path.is_dir():
        path = _pretrained_file(path)
    if not path.is_file():
        raise ModelConfigError(f"weights={str(path)!r}: no such file", key="weights")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(path)
    try:
        checkpoint = load_checkpoint(path)
    except Exception as exc:  # torch raises several types for a file it cannot read
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelConfigError(
            f"weights={str(path)!r}: not a readable torch checkpoint ({reason})", key="weights"
        ) from exc
    state = model_state(checkpoint)
    if state is None:
        raise ModelConfigError(
            f"weights={str(path)!r}: no state_dict found (expected a state_dict, or a dict"
            f" holding one under {' / '.join(STATE_DICT_KEYS)})",
            key="weights",
        )
    return state


def first_keys(keys: Sequence[str]) -> str:
    if not keys:
        return "none"
    more = f" (and {len(keys) - 1} more)" if len(keys) > 1 else ""
    return f"{keys[0]!r}{more}"


def load_weights(model: nn.Module, path: str | Path, rules: KeyRules = ()) -> nn.Module:
    """Load checkpoint `path` into `model` after mapping its keys by `rules`; strict."""
    return load_state(model, read_state_dict(path), path, rules)


def load_state(
    model: nn.Module, checkpoint: dict[str, Tensor], path: str | Path, rules: KeyRules = ()
) -> nn.Module:
    """Load the state_dict read from `path` into `model` after mapping its keys by `rules`.

    A state that does not fit raises one line naming the first missing key (ours) and the
    first unexpected one (as the file spells it), and how many more, or the first shape that
    differs. On the meta device (validation, counts) the fit is checked and nothing copied.
    """
    origin = {map_key(key, rules): key for key in checkpoint}
    state = {key: checkpoint[source] for key, source in origin.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [source for k, source in origin.items() if k not in own]
    if missing or unexpected:
        raise ModelConfigError(
            f"weights={str(path)!r} does not fit: missing {first_keys(missing)},"
            f" unexpected {first_keys(unexpected)}",
            key="weights",
        )
    for key, value in own.items():
        if value.shape != state[key].shape:
            raise ModelConfigError(
                f"weights={str(path)!r} does not fit: {key!r} has shape"
                f" {tuple(state[key].shape)} in the checkpoint, {tuple(value.shape)} in the model"
                " (is num_classes the checkpoint's?)",
                key="weights",
            )
    if not any(t.is_meta for t in own.values()):
        model.load_state_dict(state)
    return model


def with_weights(
    rules: KeyRules = (),
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: the builder gains `weights` (a checkpoint path; default none) loaded by `rules`.

    The signature shows `weights`, so the registry validates it like any other keyword.
    """

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        @functools.wraps(builder)
        def build(*args: Any, weights: str | None = None, **kwargs: Any) -> nn.Module:
            model = builder(*args, **kwargs)
            return model if weights is None else load_weights(model, weights, rules)

        signature = inspect.signature(builder)
        extra = inspect.Parameter(
            "weights", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"
        )
        build.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), extra]
        )
        return build

    return wrap
