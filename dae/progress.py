"""Progress bars that draw on any terminal and stay out of pipes and logs."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm


def bar(disable: bool | None = None, **kwargs: object) -> tqdm:
    """A tqdm bar on a terminal (none in a pipe or a log: disable=None) that follows the terminal's size. Some
    terminals report a size of 0 (`docker exec -t` as it starts, `script` without one), where tqdm would draw
    nothing: 80x24 there."""
    try:
        columns, lines = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError):  # not a terminal, or stderr replaced: disable=None hides the bar anyway
        columns, lines = 0, 0
    size = {"dynamic_ncols": True} if columns and lines else {"ncols": columns or 80, "nrows": lines or 24}
    return tqdm(disable=disable, **size, **kwargs)
