"""One registry for every model: MTNets and baselines are built the same way.

A builder is registered under a lowercase dashed name with its family; `create_model`
checks the name and the keyword arguments against the builder's signature before it
builds, so a typo in a suite is a one-line error that lists the valid choices.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

# Modules whose import registers models; loaded on first use so that `list_models`
# always sees the whole zoo, whichever module the caller imported first.
_MODEL_MODULES = ("mtbench.models", "baselines")


class ModelConfigError(ValueError):
    """A model name or keyword argument that cannot be built; `key` names the argument."""

    def __init__(self, message: str, key: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail if detail is not None else message


@dataclass(frozen=True)
class ModelEntry:
    name: str
    family: str
    builder: Callable[..., nn.Module]
    kwargs: dict[str, Any]
    doc: str


_REGISTRY: dict[str, ModelEntry] = {}
_loaded = False


def _builder_kwargs(builder: Callable[..., nn.Module]) -> dict[str, Any]:
    params = inspect.signature(builder).parameters.values()
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in params
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def register_model(
    name: str, *, family: str
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register `builder` as `name`. Every builder takes `num_classes`."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ValueError(f"model {name!r} is registered twice")
        kwargs = _builder_kwargs(builder)
        if "num_classes" not in kwargs:
            raise TypeError(f"builder of {name!r} must take num_classes")
        doc = inspect.getdoc(builder) or ""
        _REGISTRY[name] = ModelEntry(name, family, builder, kwargs, doc.split("\n\n")[0])
        return builder

    return wrap


def _load_builtin_models() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A package of models not yet present is fine; a broken import inside one is not.
            if exc.name != module:
                raise


def list_models(family: str | None = None) -> list[str]:
    _load_builtin_models()
    return sorted(n for n, e in _REGISTRY.items() if family is None or e.family == family)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def model_entry(name: str) -> ModelEntry:
    _load_builtin_models()
    if name not in _REGISTRY:
        names = sorted(_REGISTRY)
        raise ModelConfigError(
            f"unknown model {name!r}{_suggest(name, names)}; choose one of: {', '.join(names)}",
            key="name",
        )
    return _REGISTRY[name]


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> ModelEntry:
    """Raise ModelConfigError for an unknown model or keyword argument."""
    entry = model_entry(name)
    for key in kwargs:
        if key not in entry.kwargs:
            valid = ", ".join(entry.kwargs)
            raise ModelConfigError(
                f"{name}: unknown keyword argument {key!r}{_suggest(key, list(entry.kwargs))};"
                f" valid: {valid}",
                key=key,
            )
    return entry


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model; invalid names, keys or values raise ModelConfigError."""
    entry = check_model_kwargs(name, kwargs)
    try:
        return entry.builder(**kwargs)
    except ModelConfigError as exc:
        raise ModelConfigError(f"{name}: {exc}", key=exc.key, detail=exc.detail) from exc
    except (ValueError, TypeError) as exc:
        raise ModelConfigError(f"{name}: {exc}", detail=str(exc)) from exc


def validate_model(name: str, **kwargs: Any) -> None:
    """Build on the meta device: the model's own validation runs, no memory is allocated."""
    with torch.device("meta"):
        create_model(name, **kwargs)
