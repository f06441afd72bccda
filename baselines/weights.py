"""Loading published checkpoints into the zoo's models: formats, key maps, one-line errors.

A builder's `weights` keyword names a file; its format is detected from its contents:

* PyTorchVideo / PySlowFast `.pyth`: a dict whose `model_state` holds the state_dict;
* mtbench's own training checkpoints: a dict whose `model` holds the state_dict;
* a bare state_dict (torchvision's `.pth` files, `torch.save(model.state_dict())`);
* a folder written by Hugging Face's `save_pretrained` (`model.safetensors` or
  `pytorch_model.bin`).

A `module.` prefix (a model saved from inside DistributedDataParallel) is dropped. Each family
states its key correspondence once, as ordered (pattern, replacement) rules from the source's
names to ours; keys no rule matches pass unchanged, so a checkpoint saved from the mtbench model
itself (or from torchvision's builder, which builds r3d-18, mc3-18, r2plus1d-18 and s3d here)
loads as it is. Nothing is downloaded.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from mtbench.registry import ModelConfigError
from mtbench.train.checkpoint import STATE_DICT_KEYS, load_checkpoint, model_state

Replacement = str | Callable[[re.Match[str]], str]
KeyRules = Sequence[tuple[str, Replacement]]


# PyTorchVideo's `ResBlock` (branch1 shortcut, branch2 bottleneck) -> torchvision's `Bottleneck`
# (conv1/conv2/conv3 as conv-BN pairs, `downsample` shortcut), which every staged ResNet here
# reuses. The (2+1)D conv_b of R(2+1)D-50 is one Sequential in ours: conv_t, BN, ReLU, conv_xy.
PTV_BOTTLENECK: KeyRules = (
    (r"\.branch1_conv\.", ".downsample.0."),
    (r"\.branch1_norm\.", ".downsample.1."),
    (r"\.branch2\.conv_b\.conv_t\.", ".conv2.0.0."),
    (r"\.branch2\.conv_b\.norm\.", ".conv2.0.1."),
    (r"\.branch2\.conv_b\.conv_xy\.", ".conv2.0.3."),
    (r"\.branch2\.conv_a\.", ".conv1.0."),
    (r"\.branch2\.norm_a\.", ".conv1.1."),
    (r"\.branch2\.conv_b\.", ".conv2.0."),
    (r"\.branch2\.norm_b\.", ".conv2.1."),
    (r"\.branch2\.conv_c\.", ".conv3.0."),
    (r"\.branch2\.norm_c\.", ".conv3.1."),
)
PTV_STEM: KeyRules = ((r"^blocks\.0\.conv\.", "stem.0."), (r"^blocks\.0\.norm\.", "stem.1."))


def ptv_resnet_rules(
    stage_blocks: Sequence[int], stage_names: Sequence[str], head: str
) -> KeyRules:
    """PyTorchVideo `Net(blocks=[stem, stages..., (pool,) head])` -> a single-pathway ResNet.

    `stage_blocks[i]` is the index in `blocks` of the stage we call `stage_names[i]` (a pool
    block without parameters shifts the indices); the head's `proj` becomes `head`.
    """
    stages = [
        (rf"^blocks\.{b}\.res_blocks\.", f"{name}.")
        for b, name in zip(stage_blocks, stage_names, strict=True)
    ]
    return (*PTV_STEM, *stages, (r"^blocks\.\d+\.proj\.", f"{head}."), *PTV_BOTTLENECK)


def _pathway(match: re.Match[str]) -> str:
    path = ("slow", "fast")[int(match[2])]
    return f"{path}_stages.{int(match[1]) - 1}."


# PyTorchVideo's `create_slowfast`: blocks.0 = stems (pathway 0 slow, 1 fast) + fusion, blocks 1-4
# = res2..res5 per pathway, fusion after blocks 0-3 (ours: fusions.0-3), blocks.6 = head.
PTV_SLOWFAST: KeyRules = (
    (r"^blocks\.0\.multipathway_blocks\.0\.conv\.", "slow_stem.0."),
    (r"^blocks\.0\.multipathway_blocks\.0\.norm\.", "slow_stem.1."),
    (r"^blocks\.0\.multipathway_blocks\.1\.conv\.", "fast_stem.0."),
    (r"^blocks\.0\.multipathway_blocks\.1\.norm\.", "fast_stem.1."),
    (r"^blocks\.(\d)\.multipathway_fusion\.conv_fast_to_slow\.", r"fusions.\1.conv."),
    (r"^blocks\.(\d)\.multipathway_fusion\.norm\.", r"fusions.\1.bn."),
    (r"^blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.", _pathway),
    (r"^blocks\.\d+\.proj\.", "fc."),
    *PTV_BOTTLENECK,
)


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


__all__ = [
    "PTV_BOTTLENECK",
    "PTV_SLOWFAST",
    "KeyRules",
    "load_state",
    "load_weights",
    "map_key",
    "map_keys",
    "ptv_resnet_rules",
    "read_state_dict",
    "with_weights",
]
