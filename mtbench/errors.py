"""Errors that the CLI turns into one line on stderr and exit code 2, and the small helpers
that word them; the bottom of the house, importing nothing of mtbench."""

from __future__ import annotations

import difflib


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class ModelConfigError(ValueError):
    """A model name or keyword argument that cannot be built; `key` names the argument."""

    def __init__(self, message: str, key: str | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.detail = detail if detail is not None else message


def did_you_mean(word: str, choices: list[str]) -> str:
    """The closest choice as a suffix, " (did you mean 'r3d-18'?)", or "" if none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def one_line(exc: BaseException) -> str:
    """`Type: first line of the message`: how a failed cell or step names its cause."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
