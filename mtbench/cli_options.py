"""Options that several commands share, defined once."""

from __future__ import annotations

from typing import Annotated

import typer

from mtbench.model_sources import import_models

Imports = Annotated[
    list[str] | None,
    typer.Option(
        "--import",
        help="Module or .py file that registers models, imported first (repeatable).",
    ),
]


def import_cli_models(imports: list[str] | None) -> None:
    """Import what `--import` names (relative paths from the working directory)."""
    import_models(imports or [], "--import")
