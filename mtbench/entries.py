"""The entry store: what `register_model` fills, and what every source of models adds to.

An entry carries its name, family, builder, keyword arguments (read from the builder's
signature), its origin (for a record's provenance) and, where the model does not take
(B, C, T, H, W) and return logits, the adapter applied when it is built. The sources that
fill the store live above it (`mtbench.model_sources`), the factory that builds from it above
those (`mtbench.registry`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from mtbench.adapters import Adapter
from mtbench.errors import ModelConfigError

InputCheck = Callable[[dict[str, Any], list[int]], "str | None"]


@dataclass(frozen=True)
class ModelEntry:
    """A registered builder, its keyword arguments (from its signature) and where it came from.

    `adapter` turns a model that is not (B, C, T, H, W) -> logits into one; `input_check`
    says, before anything runs, why a configuration cannot take a clip shape (None if it can).
    """

    name: str
    family: str
    builder: Callable[..., nn.Module]
    kwargs: dict[str, Any]
    doc: str
    origin: str = "built-in"
    source: str = ""  # module name, file path or hub folder of the builder
    adapter: Adapter | None = None
    input_check: InputCheck | None = field(default=None, compare=False)

    def provenance(self) -> dict[str, Any]:
        """Origin, module, file, package version and the file's hash: which code a record ran."""
        return _provenance(self.origin, self.source, self.builder)


_REGISTRY: dict[str, ModelEntry] = {}
# Set while a source (an import, an entry point) runs, so the entries it registers say so.
_current_origin: list[tuple[str, str]] = []


def builder_kwargs(builder: Callable[..., nn.Module]) -> dict[str, Any]:
    """Keyword arguments and defaults (None where there is none) from the signature."""
    params = inspect.signature(builder).parameters.values()
    return {
        p.name: (None if p.default is inspect.Parameter.empty else p.default)
        for p in params
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


@contextlib.contextmanager
def registering_from(origin: str, source: str) -> Iterator[None]:
    """Entries registered inside this block come from `origin` (`source` names it)."""
    _current_origin.append((origin, source))
    try:
        yield
    finally:
        _current_origin.pop()


def _origin_of(builder: Callable[..., nn.Module]) -> tuple[str, str]:
    if _current_origin:
        return _current_origin[-1]
    module = getattr(builder, "__module__", "") or ""
    builtin = module.split(".")[0] in ("mtbench", "baselines")
    return ("built-in" if builtin else "import", module)


def add_entry(entry: ModelEntry) -> ModelEntry:
    """Register `entry`; a name taken by other code is an error naming both origins."""
    old = _REGISTRY.get(entry.name)
    if old is not None and old.builder is not entry.builder:
        # The same file imported again (by path and by module name, or reloaded) replaces its
        # own entry; other code under a taken name is refused.
        if _code_of(old.builder) != _code_of(entry.builder):
            raise ModelConfigError(
                f"model {entry.name!r} is registered twice: by {describe_origin(old)}"
                f" and by {describe_origin(entry)}",
                key="name",
            )
    if "num_classes" not in entry.kwargs:
        raise ModelConfigError(
            f"{entry.name}: its builder ({describe_origin(entry)}) must take num_classes",
            key="name",
        )
    _REGISTRY[entry.name] = entry
    return entry


def _source_file(function: Callable[..., Any]) -> str | None:
    """The file that defines `function` (None for a builtin or a dynamic one)."""
    try:
        return inspect.getsourcefile(function)
    except TypeError:
        return None


def _code_of(builder: Callable[..., nn.Module]) -> tuple[str | None, str]:
    """Which function a builder is: its source file (resolved) and qualified name."""
    function = inspect.unwrap(builder)
    file = _source_file(function)
    return (str(Path(file).resolve()) if file else None, function.__qualname__)


def describe_origin(entry: ModelEntry) -> str:
    return f"{entry.origin} {entry.source}" if entry.source else entry.origin


def register_model(
    name: str,
    *,
    family: str,
    adapter: Adapter | None = None,
    input_check: InputCheck | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register `builder` as `name`. Every builder takes `num_classes`."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        origin, source = _origin_of(builder)
        doc = inspect.getdoc(builder) or ""
        entry = ModelEntry(
            name,
            family,
            builder,
            builder_kwargs(builder),
            doc.split("\n\n")[0],
            origin,
            source,
            adapter,
            input_check,
        )
        add_entry(entry)
        return builder

    return wrap


def entry_names() -> list[str]:
    """Every name registered so far, sorted (the sources load theirs first)."""
    return sorted(_REGISTRY)


def forget_entry(name: str) -> None:
    """Drop a resolved name's entry, so that it is resolved again where it now points."""
    _REGISTRY.pop(name, None)


def registered(name: str) -> ModelEntry | None:
    return _REGISTRY.get(name)


def entries() -> list[ModelEntry]:
    return list(_REGISTRY.values())


@functools.cache
def _file_hash(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@functools.cache
def _distributions() -> dict[str, list[str]]:
    import importlib.metadata

    return dict(importlib.metadata.packages_distributions())


def _provenance(origin: str, source: str, builder: Callable[..., nn.Module]) -> dict[str, Any]:
    import importlib.metadata

    builder = inspect.unwrap(builder)
    module = getattr(builder, "__module__", None)
    file = _source_file(builder)
    sha = None
    if file and Path(file).is_file():
        sha = _file_hash(file, Path(file).stat().st_mtime_ns)
    dists = _distributions().get((module or "").split(".")[0], [])
    version = None
    if dists:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            version = importlib.metadata.version(dists[0])
    return {
        "origin": origin,
        "source": source,
        "module": module,
        "file": file,
        "sha256": sha,
        "version": version,
    }
