"""A family's variants as a table and a loop, as MTNet's depths: one shared builder, each
variant a row of its fixed arguments and its one-line description."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from mtbench.entries import register_model
from mtbench.weights import KeyRules, with_weights


def register_variants(
    family: str,
    build: Callable[..., nn.Module],
    table: dict[str, tuple[tuple[Any, ...], str]],
    rules: KeyRules = (),
) -> None:
    """Register each `name: (args, doc)` of `table` as `build(*args, **kwargs)`, taking
    `weights` (loaded by `rules`) and the keyword arguments that follow `args` in `build`."""
    for name, (args, doc) in table.items():
        register_model(name, family=family)(with_weights(rules)(_variant(name, build, args, doc)))


def _variant(
    name: str, build: Callable[..., nn.Module], args: tuple[Any, ...], doc: str
) -> Callable[..., nn.Module]:
    def builder(**kwargs: Any) -> nn.Module:
        return build(*args, **kwargs)

    signature = inspect.signature(build)
    keywords = list(signature.parameters.values())[len(args) :]
    builder.__signature__ = signature.replace(parameters=keywords)  # type: ignore[attr-defined]
    builder.__name__ = builder.__qualname__ = name.replace("-", "_")
    builder.__module__ = build.__module__
    builder.__doc__ = doc
    return builder
