"""A suite key's type check: each returns None when the value is fine, else why not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """One key of a section: its check returns None when the value is fine, else why not."""

    check: Callable[[Any], str | None]
    doc: str
    default: Any = None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _string(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else f"expected a non-empty string, got {v!r}"


def _strings(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)
    return None if ok else f"expected a list of non-empty strings, got {v!r}"


def _positive_int(v: Any) -> str | None:
    return None if _is_int(v) and v >= 1 else f"expected an integer >= 1, got {v!r}"


def _non_negative_int(v: Any) -> str | None:
    return None if _is_int(v) and v >= 0 else f"expected an integer >= 0, got {v!r}"


def _boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {v!r}"


def _choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else f"{v!r} is not one of {', '.join(map(str, choices))}"

    return check
