"""Hugging Face transformers' video classifiers: VideoMAE, TimeSformer and ViViT.

Built from their configs with random weights (nothing is downloaded); the config fields that
set a network's size are keyword arguments, and each preset is one line at its paper's size.
`transformers` is imported only when a model is built (`pip install 'mtbench[transformers]'`).
The models take (B, T, C, H, W) `pixel_values` and return an output whose `.logits` are the
logits, so every entry carries that adapter. Their position tables fix the clip: T must be
`num_frames` and H = W = `image_size`, checked before anything runs. `attn_implementation`
("sdpa", Hugging Face's default where the model has it, or "eager") changes the kernel, not
the GFLOPs: both counters count a fused attention as its two matrix products.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtbench.adapters import Adapter
from mtbench.entries import register_model
from mtbench.errors import ModelConfigError
from mtbench.weights import first_keys, load_weights

INSTALL = "pip install 'mtbench[transformers]' (or pip install transformers)"
HF_ADAPTER = Adapter(layout="BTCHW", logits="logits")

# family -> (config class, model class, attention implementations; the first is the default,
# as in transformers: TimeSformer has no SDPA path)
ARCHITECTURES = {
    "videomae": ("VideoMAEConfig", "VideoMAEForVideoClassification", ("sdpa", "eager")),
    "timesformer": ("TimesformerConfig", "TimesformerForVideoClassification", ("eager",)),
    "vivit": ("VivitConfig", "VivitForVideoClassification", ("sdpa", "eager")),
}

_VIT_S = {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6}
_VIT_B = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12}
_CLIP = {"image_size": 224, "patch_size": 16}
# Tong et al. 2022 (VideoMAE) ViT-S/B 16x224x224, tubelet 2; Bertasius et al. 2021
# (TimeSformer, divided space-time) 8x224x224; Arnab et al. 2021 (ViViT-B, model 1) 32x224x224.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "videomae-s": (
        "videomae",
        {**_CLIP, "num_frames": 16, "tubelet_size": 2, **_VIT_S, "intermediate_size": 1536},
    ),
    "videomae-b": (
        "videomae",
        {**_CLIP, "num_frames": 16, "tubelet_size": 2, **_VIT_B, "intermediate_size": 3072},
    ),
    "timesformer-b": (
        "timesformer",
        {**_CLIP, "num_frames": 8, **_VIT_B, "intermediate_size": 3072},
    ),
    "vivit-b": (
        "vivit",
        {**_CLIP, "num_frames": 32, "tubelet_size": 2, **_VIT_B, "intermediate_size": 3072},
    ),
}


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as exc:
        raise ModelConfigError(f"Hugging Face models need transformers: {INSTALL}") from exc
    return transformers


def build_hf_video(
    family: str,
    num_classes: int,
    attn_implementation: str,
    weights: str | None = None,
    **config: Any,
) -> nn.Module:
    """The `family` classifier of transformers from a config with these fields; `weights` is
    a `save_pretrained` folder (read by transformers, key conversions included) or a file that
    every baseline reads (an mtbench checkpoint, a state_dict)."""
    config_name, model_name, attention = ARCHITECTURES[family]
    if attn_implementation not in attention:
        raise ModelConfigError(
            f"attn_implementation={attn_implementation!r}: choose one of {', '.join(attention)}",
            key="attn_implementation",
        )
    transformers = _transformers()
    if family == "vivit":  # ViViT's tubelet is (t, h, w); its patch is the tubelet's h and w
        patch = config.pop("patch_size")
        config["tubelet_size"] = [config["tubelet_size"], patch, patch]
    heads, hidden = config["num_attention_heads"], config["hidden_size"]
    if hidden % heads:
        raise ModelConfigError(
            f"hidden_size={hidden} is not a multiple of num_attention_heads={heads}",
            key="hidden_size",
        )
    hf_config = getattr(transformers, config_name)(num_labels=num_classes, **config)
    hf_config._attn_implementation = attn_implementation
    model_class = getattr(transformers, model_name)
    if weights is not None and Path(weights).is_dir():
        return _from_pretrained(model_class, hf_config, Path(weights))
    model = model_class(hf_config)
    return model if weights is None else load_weights(model, weights)


PRETRAINED_FILES = ("model.safetensors", "pytorch_model.bin")


def _from_pretrained(model_class: Any, config: Any, folder: Path) -> nn.Module:
    """Load a `save_pretrained` folder into exactly this config, or say in one line why not."""
    if not any((folder / name).is_file() for name in PRETRAINED_FILES):
        raise ModelConfigError(
            f"weights={str(folder)!r}: a folder without {' or '.join(PRETRAINED_FILES)}"
            " (expected one written by save_pretrained)",
            key="weights",
        )
    if torch.empty(0).is_meta:  # validation on the meta device: the fit is checked when built
        return model_class(config)
    try:
        model, info = model_class.from_pretrained(folder, config=config, output_loading_info=True)
    except (RuntimeError, ValueError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelConfigError(f"weights={str(folder)!r} does not fit: {reason}") from exc
    problems = {k: sorted(info.get(k) or []) for k in ("missing_keys", "unexpected_keys")}
    problems["mismatched_keys"] = sorted(str(k[0]) for k in info.get("mismatched_keys") or [])
    if any(problems.values()):
        parts = [f"{k.split('_')[0]} {first_keys(v)}" for k, v in problems.items() if v]
        raise ModelConfigError(
            f"weights={str(folder)!r} does not fit: {', '.join(parts)}", key="weights"
        )
    return model


def _clip_check(defaults: dict[str, Any]) -> Callable[[dict[str, Any], list[int]], str | None]:
    def check(kwargs: dict[str, Any], shape: list[int]) -> str | None:
        frames = kwargs.get("num_frames", defaults["num_frames"])
        size = kwargs.get("image_size", defaults["image_size"])
        if shape[2:] != [frames, size, size]:
            return (
                f"takes only {frames}x{size}x{size} clips (its config fixes num_frames and"
                f" image_size, and its position table with them), got"
                f" {'x'.join(map(str, shape[2:]))}: set num_frames={shape[2]} and"
                f" image_size={shape[3]} or use that input"
            )
        return None

    return check


def _preset(name: str, family: str, defaults: dict[str, Any]) -> Callable[..., nn.Module]:
    """Register `name`: `family` at `defaults`, every config field a keyword argument."""

    def builder(**kwargs: Any) -> nn.Module:
        bound = signature.bind(**kwargs)
        bound.apply_defaults()
        return build_hf_video(family, **bound.arguments)

    params = [
        inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=value)
        for key, value in {
            "num_classes": 400,
            **defaults,
            "attn_implementation": ARCHITECTURES[family][2][0],
            "weights": None,
        }.items()
    ]
    signature = inspect.Signature(params)
    builder.__signature__ = signature  # type: ignore[attr-defined]
    builder.__name__ = builder.__qualname__ = name.replace("-", "_")
    builder.__doc__ = (
        f"Hugging Face {ARCHITECTURES[family][1]} at {defaults['num_frames']}x"
        f"{defaults['image_size']}x{defaults['image_size']}, random weights."
    )
    register = register_model(
        name, family=family, adapter=HF_ADAPTER, input_check=_clip_check(defaults)
    )
    return register(builder)


for _name, (_family, _defaults) in PRESETS.items():
    _preset(_name, _family, _defaults)
