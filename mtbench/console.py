"""The console every command prints through: as wide as a table needs when it writes to a file
or a pipe.

Rich sizes output to the terminal, and to 80 columns when there is none: a log of `mtbench run`
(`> run.log`, `| tee`, a cluster job's output file) then split table headers into "labe/l" and
wrapped model names. A log has no width to fit, so there a table takes the width it needs.
"""

from __future__ import annotations

import os

from rich.console import Console, ConsoleDimensions

LOG_WIDTH = 10_000  # columns for a file or a pipe: a table is as wide as it needs, no wider


class LogConsole(Console):
    """A rich Console that is `LOG_WIDTH` wide when its output is not a terminal (and the user
    did not set COLUMNS); in a terminal, the terminal's width as usual."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or self._width is not None or "COLUMNS" in os.environ:
            return size
        return ConsoleDimensions(LOG_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size
