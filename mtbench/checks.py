"""Value checks shared by every declared key (run options, suite sections, launcher keys):
each returns None when the value is fine, else why not, in words a one-line error can carry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tomllib


@dataclass(frozen=True)
class Field:
    """One key of a section: its check returns None when the value is fine, else why not."""

    check: Callable[[Any], str | None]
    doc: str
    default: Any = None


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def string(v: Any) -> str | None:
    return None if isinstance(v, str) and v.strip() else f"expected a non-empty string, got {v!r}"


def strings(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(s, str) and s.strip() for s in v)
    return None if ok else f"expected a list of non-empty strings, got {v!r}"


def positive_int(v: Any) -> str | None:
    return None if is_int(v) and v >= 1 else f"expected an integer >= 1, got {v!r}"


def non_negative_int(v: Any) -> str | None:
    return None if is_int(v) and v >= 0 else f"expected an integer >= 0, got {v!r}"


def positive_number(v: Any) -> str | None:
    ok = isinstance(v, int | float) and not isinstance(v, bool) and v > 0
    return None if ok else f"expected a number > 0, got {v!r}"


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {v!r}"


def choice(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        return None if v in choices else f"{v!r} is not one of {', '.join(map(str, choices))}"

    return check


def parse_value(text: str) -> Any:
    """A `KEY=VALUE` value as TOML reads it (0.5, 8, true, "pool"); else the string itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
