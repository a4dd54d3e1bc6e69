"""What every stage script shares: logging, and turning a DaeError into one line and exit code 2."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from dae.errors import DaeError


def run(main: Callable[[], None]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        main()
    except DaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
