"""argparse types for the bench scripts: a bad number is refused in one line by argparse (exit 2), before any work."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(kind: type, low: float, high: float = math.inf) -> Callable[[str], float]:
    """An argparse type: `kind` (int or float) from `low` to `high`, both included."""
    allowed = f">= {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
    noun = "a whole number" if kind is int else "a number"

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; expected {noun} {allowed}") from None
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"{text} is not allowed; expected {noun} {allowed}")
        return value

    return parse


def size(text: str) -> tuple[int, int]:
    """HxW, both whole numbers >= 1."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) >= 1 for p in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not a size; expected HxW in pixels, such as 4000x6000")
    return int(parts[0]), int(parts[1])
