"""One registry for every model: MTNets, baselines and the user's own, built the same way.

A builder is registered under a lowercase dashed name with its family; `create_model`
checks the name and the keyword arguments against the builder's signature before it
builds, so a typo in a suite is a one-line error that lists the valid choices.

This module is the factory. Entries live in the entry store (`mtbench.entries`), filled by
the sources (`mtbench.model_sources`):
the built-in modules, modules a suite or `--import` names, installed packages through the
entry-point group `mtbench.models`, and names that say where their builder is
(`module:callable`, `hub:DIR:ENTRY`), resolved into an entry the first time they are seen.
Nothing downstream asks where a model came from; records carry it as provenance.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from mtbench.adapters import adapt
from mtbench.entries import (
    ModelEntry,
    describe_origin,
    entries,
    entry_names,
    register_model,
    registered,
)
from mtbench.errors import ModelConfigError, did_you_mean, one_line
from mtbench.model_sources import load_sources, resolve_name

# What a plugin imports from here: the decorator and the error it may raise.
__all__ = [
    "ModelConfigError",
    "ModelEntry",
    "check_input",
    "check_model_kwargs",
    "create_model",
    "did_you_mean",
    "list_models",
    "model_entry",
    "register_model",
    "validate_model",
]


def list_models(family: str | None = None) -> list[str]:
    load_sources()
    return sorted(e.name for e in entries() if family is None or e.family == family)


def model_entry(name: str) -> ModelEntry:
    """The entry of `name`; a `module:callable` or `hub:DIR:ENTRY` name is resolved once."""
    load_sources()
    if registered(name) is None and ":" in name:
        resolve_name(name)
    entry = registered(name)
    if entry is None:
        names = entry_names()
        raise ModelConfigError(
            f"unknown model {name!r}{did_you_mean(name, names)}; choose one of: {', '.join(names)}"
            " (or name a builder as module:callable or hub:DIR:ENTRY)",
            key="name",
        )
    return entry


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> ModelEntry:
    """Raise ModelConfigError for an unknown model or keyword argument."""
    entry = model_entry(name)
    for key in kwargs:
        if key not in entry.kwargs:
            valid = ", ".join(entry.kwargs)
            raise ModelConfigError(
                f"{name}: unknown keyword argument {key!r}{did_you_mean(key, list(entry.kwargs))};"
                f" valid: {valid}",
                key=key,
            )
    return entry


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model; invalid names, keys or values raise ModelConfigError.

    The result always takes (B, C, T, H, W) and returns logits: an entry's adapter is applied.
    """
    entry = check_model_kwargs(name, kwargs)
    try:
        model = entry.builder(**kwargs)
    except ModelConfigError as exc:
        raise ModelConfigError(f"{name}: {exc}", key=exc.key, detail=exc.detail) from exc
    except (ValueError, TypeError) as exc:
        raise ModelConfigError(f"{name}: {exc}", detail=str(exc)) from exc
    except Exception as exc:  # any builder's failure is the model's one-line answer
        raise ModelConfigError(f"{name}: {one_line(exc)}", detail=one_line(exc)) from exc
    if not isinstance(model, nn.Module):
        raise ModelConfigError(
            f"{name}: its builder ({describe_origin(entry)}) returned"
            f" {type(model).__name__}, not a torch.nn.Module",
            key="name",
        )
    return adapt(model, entry.adapter)


def check_input(
    name: str, kwargs: dict[str, Any], input_shape: list[int], model: nn.Module | None = None
) -> str | None:
    """Why `name` with `kwargs` cannot take a clip of `input_shape`, or None if it can.

    An entry's own check answers; a model from outside mtbench is run once on a meta clip
    (no memory, no arithmetic), so a forward that rejects the shape says so before any cell
    runs: `model`, that model already built on the meta device, or built here. An operator
    without a meta kernel leaves the answer to the cell itself.
    """
    entry = model_entry(name)
    if entry.input_check is not None:
        why = entry.input_check(kwargs, list(input_shape))
        return None if why is None else f"{name} {why}"
    if entry.origin == "built-in":
        return None
    try:
        with torch.device("meta"), torch.no_grad():
            model = (model or create_model(name, **kwargs)).eval()
            out = model(torch.empty(list(input_shape)))
    except (ModelConfigError, NotImplementedError):
        return None
    except Exception as exc:  # the user's forward: any error is its answer
        lines = str(exc).strip().splitlines()
        return f"{name} rejects a {_shape(input_shape)} clip: {type(exc).__name__}: " + (
            lines[0] if lines else ""
        )
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != input_shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return (
            f"{name} returns {got} for a {_shape(input_shape)} clip; expected logits"
            f" ({input_shape[0]}, num_classes)"
        )
    return None


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape))


def validate_model(name: str, **kwargs: Any) -> nn.Module:
    """Build on the meta device: the model's own validation runs, no memory is allocated."""
    with torch.device("meta"):
        return create_model(name, **kwargs)
