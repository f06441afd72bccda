"""Where models come from besides mtbench itself; each source only adds registry entries.

* `import_models(["mymodels", "models/extra.py"])`: a suite's `imports` and the CLI's
  `--import`, as mmengine's `custom_imports`: modules by name or `.py` files by path,
  imported before anything is validated; what they register with `register_model` is then
  listed, validated and suggested like a built-in. A failed import is fatal.
* Installed packages: the entry-point group `mtbench.models`, read when the registry is first
  read (as torch finds device backends). An entry point names a module, whose import
  registers its models, or a function without arguments that registers them.
  `MTBENCH_PLUGINS_AUTOLOAD=0` switches the discovery off.
* A name that says where its builder is: `package.module:callable` (or `file.py:callable`),
  and `hub:DIR:ENTRY`, an entry of a torch.hub folder's `hubconf.py`, loaded with
  `source="local"` (nothing is downloaded). The keyword arguments are read from the callable's
  signature, as for a registered builder.

Relative paths are read from the folder of the suite that names them (`resolving_from`),
otherwise from the working directory.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from torch import nn

from mtbench.entries import (
    ModelEntry,
    add_entry,
    builder_kwargs,
    entry_names,
    forget_entry,
    registered,
    registering_from,
)
from mtbench.errors import ModelConfigError, did_you_mean

# Packages whose import registers the built-in models, loaded on first use so that listing
# always sees the whole zoo, whichever module the caller imported first.
BUILTIN_MODULES = ("mtbench.models", "baselines")
ENTRY_POINT_GROUP = "mtbench.models"
AUTOLOAD_VARIABLE = "MTBENCH_PLUGINS_AUTOLOAD"
HUBCONF = "hubconf.py"

_base: list[Path] = []
_sources_loaded = False
_entry_points_loaded: set[str] = set()
# Files imported by path: their module and the state of the file when it was imported.
_file_modules: dict[Path, tuple[ModuleType, int]] = {}


def _error_line(exc: BaseException) -> str:
    """The last line of the traceback an import would print: `Type: message`."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"SyntaxError: {exc.msg} ({exc.filename}, line {exc.lineno})"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1] if text else ''}".rstrip(": ")


@contextlib.contextmanager
def resolving_from(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Relative paths in imports and model names are read from `folder` inside this block."""
    _base.append(Path(folder))
    try:
        yield
    finally:
        _base.pop()


def _folder() -> Path:
    return _base[-1] if _base else Path.cwd()


@contextlib.contextmanager
def _on_sys_path(*folders: Path) -> Iterator[None]:
    """`folders` searched first by imports for the duration, as torch.hub does for a hub."""
    added = [str(f) for f in folders if str(f) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)


def _import_module(name: str) -> ModuleType:
    with _on_sys_path(_folder(), Path.cwd()):
        return importlib.import_module(name)


def _import_file(path: Path) -> ModuleType:
    """Import a `.py` file under a name of its own; again only when the file changed."""
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    stamp = path.stat().st_mtime_ns
    cached = _file_modules.get(path)
    if cached is not None and cached[1] == stamp:
        return cached[0]
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    name = f"mtbench_user.{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        with _on_sys_path(path.parent):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _file_modules[path] = (module, stamp)
    return module


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or os.sep in spec


def import_models(specs: list[str], named_by: str) -> list[str]:
    """Import each module name or `.py` path; the names of the models each registered.

    A failure is one line naming the import, `named_by` (the suite key or flag) and the
    import's own error.
    """
    load_sources()  # built-ins first, so a plugin that reuses a name is caught
    new: list[str] = []
    for spec in specs:
        before = set(entry_names())
        try:
            if _is_file(spec):
                path = _folder() / spec
                with registering_from("import", str(path)):
                    _import_file(path)
            else:
                with registering_from("import", spec):
                    _import_module(spec)
        except ModelConfigError:
            raise
        except (Exception, SystemExit) as exc:
            raise ModelConfigError(
                f"{named_by}: cannot import {spec!r}: {_error_line(exc)}", key="imports"
            ) from exc
        new.extend(sorted(set(entry_names()) - before))
    return new


def load_sources() -> None:
    """The built-in models and the installed packages' entry points, once per process."""
    global _sources_loaded
    if _sources_loaded:
        return
    _sources_loaded = True
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            # A package of models not yet present is fine; a broken import inside one is not.
            if exc.name != module:
                raise
    load_entry_points()


def load_entry_points() -> None:
    """Load the `mtbench.models` entry points not loaded yet (once each per process)."""
    if os.environ.get(AUTOLOAD_VARIABLE, "1") == "0":
        return
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value in _entry_points_loaded:
            continue
        _entry_points_loaded.add(ep.value)
        dist = f" ({ep.dist.name} {ep.dist.version})" if ep.dist is not None else ""
        source = f"{ep.name} = {ep.value}{dist}"
        try:
            with registering_from("entry point", source):
                loaded = ep.load()
                if callable(loaded) and not isinstance(loaded, ModuleType):
                    loaded()
        except ModelConfigError:
            raise
        except Exception as exc:
            raise ModelConfigError(
                f"entry point {source} of group {ENTRY_POINT_GROUP!r} failed to load:"
                f" {_error_line(exc)} (set {AUTOLOAD_VARIABLE}=0 to skip installed plugins)",
                key="name",
            ) from exc


def _attribute(module: ModuleType, path: str, name: str) -> Any:
    obj: Any = module
    for part in path.split("."):
        if not hasattr(obj, part):
            public = [a for a in dir(obj) if not a.startswith("_")]
            close = did_you_mean(part, public)
            raise ModelConfigError(
                f"model {name!r}: {getattr(obj, '__name__', module.__name__)!r} has no"
                f" attribute {part!r}{close}",
                key="name",
            )
        obj = getattr(obj, part)
    return obj


def _entry(
    name: str, family: str, builder: Callable[..., nn.Module], origin: str, source: str
) -> ModelEntry:
    doc = (inspect.getdoc(builder) or "").split("\n\n")[0]
    return add_entry(
        ModelEntry(name, family, builder, builder_kwargs(builder), doc, origin, source)
    )


def resolve_name(name: str) -> ModelEntry:
    """Turn `module:callable` or `hub:DIR:ENTRY` into a registry entry under that name; a
    name that names a place (`hub:DIR:ENTRY`, `file.py:callable`) and was resolved elsewhere
    before (another folder, another suite) is resolved anew from here."""
    if moved(name):
        forget_entry(name)
    if name.startswith("hub:"):
        return _resolve_hub(name)
    target, _, attr = name.rpartition(":")
    if not target or not attr:
        raise ModelConfigError(
            f"model {name!r}: expected module:callable or hub:DIR:ENTRY", key="name"
        )
    try:
        if _is_file(target):
            path = _folder() / target
            module = _import_file(path)
            source = str(path.resolve())
        else:
            module = _import_module(target)
            source = target
    except Exception as exc:
        raise ModelConfigError(
            f"model {name!r}: cannot import {target!r}: {_error_line(exc)}", key="name"
        ) from exc
    builder = _attribute(module, attr, name)
    if not callable(builder):
        raise ModelConfigError(
            f"model {name!r}: {attr!r} is a {type(builder).__name__}, not a callable", key="name"
        )
    return _entry(name, target.split(".")[0], builder, "callable", source)


def moved(name: str) -> bool:
    """Whether `name`, read inside a `resolving_from` block (a suite being loaded, a command's
    working directory), points elsewhere than where it was resolved before. Outside such a
    block a name keeps the place it was resolved to: the suite's, wherever the cell runs."""
    if not _base:
        return False
    old, place = registered(name), place_of(name)
    return (
        old is not None
        and place is not None
        and old.origin in ("hub", "callable")
        and old.source != place
    )


def place_of(name: str) -> str | None:
    """The folder or file a `hub:DIR:ENTRY` or `file.py:callable` name points to from the
    current folder; None for a module's name, which Python's imports resolve."""
    if name.startswith("hub:"):
        target = name[len("hub:") :].rpartition(":")[0]
    else:
        target = name.rpartition(":")[0]
        if not _is_file(target):
            return None
    return str((_folder() / target).resolve()) if target else None


def _resolve_hub(name: str) -> ModelEntry:
    folder_text, sep, entry = name[len("hub:") :].rpartition(":")
    if not sep or not folder_text or not entry:
        raise ModelConfigError(f"model {name!r}: expected hub:DIR:ENTRY", key="name")
    folder = (_folder() / folder_text).resolve()
    hubconf = folder / HUBCONF
    if not hubconf.is_file():
        raise ModelConfigError(f"model {name!r}: no {HUBCONF} in {folder}", key="name")
    try:
        module = _import_file(hubconf)
    except Exception as exc:
        raise ModelConfigError(
            f"model {name!r}: cannot import {hubconf}: {_error_line(exc)}", key="name"
        ) from exc
    # torch.hub's rule: every public callable of hubconf.py is an entry.
    entries = sorted(n for n, f in vars(module).items() if callable(f) and not n.startswith("_"))
    if entry not in entries:
        raise ModelConfigError(
            f"model {name!r}: {hubconf} has no entry {entry!r}{did_you_mean(entry, entries)};"
            f" entries: {', '.join(entries) or 'none'}",
            key="name",
        )
    builder = _hub_builder(folder, entry, getattr(module, entry))
    return _entry(name, f"hub:{folder.name}", builder, "hub", str(folder))


def _hub_builder(
    folder: Path, entry: str, function: Callable[..., nn.Module]
) -> Callable[..., nn.Module]:
    """Build through `torch.hub.load(folder, entry, source="local")`, as a hub user would."""
    import torch.hub

    @functools.wraps(function)
    def build(*args: Any, **kwargs: Any) -> nn.Module:
        return torch.hub.load(str(folder), entry, *args, source="local", **kwargs)

    return build
