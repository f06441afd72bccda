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

import re
import textwrap
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

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
from mtbench.model_sources import load_sources, moved, resolve_name

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
    if ":" in name and (registered(name) is None or moved(name)):
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

    An entry's own check answers first (its words say what to change); then every model,
    built-in or not, is run once on a meta clip (shapes only: no memory, no arithmetic), so a
    forward that rejects the shape says so before any cell runs: `model`, that model already
    built on the meta device, or built here. A forward that cannot run on meta (an operator
    without a meta kernel, a step that reads values, like `.item()`) is accepted: the cell
    answers. One answer per builder, keyword arguments and shape: a suite's cells that differ
    only in how they run share it.
    """
    entry = model_entry(name)
    if entry.input_check is not None:
        why = entry.input_check(kwargs, list(input_shape))
        if why is not None:
            return f"{name} {why}"
    key = (entry.builder, name, repr(sorted(kwargs.items())), tuple(input_shape))
    if key not in _ANSWERS:
        _ANSWERS[key] = _meta_forward(name, kwargs, list(input_shape), model)
    return _ANSWERS[key]


_ANSWERS: dict[tuple, str | None] = {}  # check_input's answers, by builder, kwargs and shape
_MESSAGE_WIDTH = 160  # characters of a forward's own error kept in check_input's line


def _meta_forward(
    name: str, kwargs: dict[str, Any], shape: list[int], model: nn.Module | None
) -> str | None:
    """The model's forward on a meta clip of `shape`: None if it returns logits (or cannot
    run on meta at all), else why not, in one line."""
    try:
        with torch.device("meta"), torch.no_grad(), _ShapeShortcuts():
            model = (model or create_model(name, **kwargs)).eval()
            out = model(torch.empty(shape))
    except ModelConfigError:  # the build's own problem: validate_model reports it
        return None
    except Exception as exc:  # the model's forward: any error is its answer
        if _meta_cannot_run(exc):
            return None
        text = textwrap.shorten(one_line(exc), _MESSAGE_WIDTH, placeholder=" ...")
        return f"{name} rejects a {_shape(shape)} clip: {text}"
    if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != shape[0]:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        return (
            f"{name} returns {got} for a {_shape(shape)} clip; expected logits"
            f" ({shape[0]}, num_classes)"
        )
    return None


class _ShapeShortcuts(TorchFunctionMode):
    """Kernels whose meta path is a slow Python reference, answered on meta from shapes: batch
    norm, and the fused recurrent kernels (`torch.gru`, `torch.lstm`, `torch.rnn_*`), run one
    frame and layer at a time there. MTNet-64 at 16x112x112 took 3 s on meta for its 32 GRUs
    and 0.4 s more for its batch norms; a call whose shapes do not fit goes to torch, whose
    error says why."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if not args or not _on_meta(args[0]):
            return func(*args, **kwargs)
        if func in _NORMS and _norm_fits(args[0], [*args[1:5], *kwargs.values()]):
            return torch.empty_like(args[0])
        if func in _RECURRENT and not kwargs and _recurrent_fits(args):
            x, hx, _, _, _, _, _, bidirectional, _ = args
            states = tuple(hx) if isinstance(hx, (tuple, list)) else (hx,)
            width = states[0].shape[-1] * (2 if bidirectional else 1)
            return (x.new_empty((*x.shape[:2], width)), *(s.new_empty(s.shape) for s in states))
        return func(*args, **kwargs)


_NORMS = (F.batch_norm, torch.batch_norm)
_RECURRENT = (torch.gru, torch.lstm, torch.rnn_tanh, torch.rnn_relu)


def _on_meta(x: object) -> bool:
    return isinstance(x, torch.Tensor) and x.device.type == "meta"


def _norm_fits(x: torch.Tensor, given: list) -> bool:
    """Whether every statistic among a batch norm's other arguments `given` (running mean and
    variance, weight, bias; flags and numbers pass) holds one value per channel of `x`."""
    stats = [s for s in given if isinstance(s, torch.Tensor)]
    return x.dim() >= 2 and all(s.shape == (x.shape[1],) for s in stats)


def _recurrent_fits(args: tuple) -> bool:
    """Whether `args` are (input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first), the input (frames, batch, features) or batch first, its
    features the first weight's."""
    if len(args) != 9 or not isinstance(args[2], (list, tuple)):
        return False
    x, params = args[0], args[2]
    return x.dim() == 3 and x.shape[-1] == params[0].shape[-1]


def _meta_cannot_run(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the meta device cannot run the step: no meta
    kernel (NotImplementedError), or a value read from a tensor that has none."""
    chain: BaseException | None = exc
    for _ in range(8):  # a chain of causes is short; a cycle must not hang validation
        if chain is None:
            return False
        if isinstance(chain, NotImplementedError) or _META.search(str(chain)):
            return True
        chain = chain.__cause__ or chain.__context__
    return False


_META = re.compile(r"\bmeta\b", re.IGNORECASE)  # "meta tensors", "'Meta' backend", ...


def _shape(shape: list[int]) -> str:
    return "x".join(map(str, shape))


def validate_model(name: str, **kwargs: Any) -> nn.Module:
    """Build on the meta device: the model's own validation runs, no memory is allocated."""
    with torch.device("meta"):
        return create_model(name, **kwargs)
