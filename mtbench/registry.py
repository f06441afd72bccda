"""One registry for every model: MTNets, baselines and the user's own, built the same way.

A builder is registered under a lowercase dashed name with its family; `create_model`
checks the name and the keyword arguments against the builder's signature before it
builds, so a typo in a suite is a one-line error that lists the valid choices.

Entries come from several sources (`mtbench.model_sources`), and only add entries here:
the built-in modules, modules a suite or `--import` names, installed packages through the
entry-point group `mtbench.models`, and names that say where their builder is
(`module:callable`, `hub:DIR:ENTRY`), resolved into an entry the first time they are seen.
Nothing downstream asks where a model came from; records carry it as provenance.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mtbench.adapters import Adapter, adapt

# Modules whose import registers models; loaded on first use so that `list_models`
# always sees the whole zoo, whichever module the caller imported first.
_MODEL_MODULES = ("mtbench.models", "baselines")


class ModelConfigError(ValueError):
    """A model name or keyword argument that cannot be built; `key` names the argument."""

    def __init__(self, message: str, key: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail if detail is not None else message


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
_loaded = False
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


def _load_builtin_models() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    import importlib

    from mtbench.model_sources import load_entry_points

    for module in _MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A package of models not yet present is fine; a broken import inside one is not.
            if exc.name != module:
                raise
    load_entry_points()


def list_models(family: str | None = None) -> list[str]:
    _load_builtin_models()
    return sorted(n for n, e in _REGISTRY.items() if family is None or e.family == family)


def did_you_mean(word: str, choices: list[str]) -> str:
    """The closest choice as a suffix, " (did you mean 'r3d-18'?)", or "" if none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def model_entry(name: str) -> ModelEntry:
    """The entry of `name`; a `module:callable` or `hub:DIR:ENTRY` name is resolved once."""
    _load_builtin_models()
    if name not in _REGISTRY and ":" in name:
        from mtbench.model_sources import resolve_name

        resolve_name(name)
    if name not in _REGISTRY:
        names = sorted(_REGISTRY)
        raise ModelConfigError(
            f"unknown model {name!r}{did_you_mean(name, names)}; choose one of: {', '.join(names)}"
            " (or name a builder as module:callable or hub:DIR:ENTRY)",
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
