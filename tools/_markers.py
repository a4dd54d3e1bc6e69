"""The tables block of a generated docs page: everything between a `<!-- tables: ...` line and its end marker."""

import sys
from pathlib import Path

from dae.io import write_text

ROOT = Path(__file__).resolve().parents[1]


def replace_tables(doc: str, begin: str, end: str, text: str) -> str:
    """`doc` with the block after the line starting `begin` and before `end` replaced by `text`."""
    if begin not in doc or end not in doc.split(begin, 1)[1]:
        sys.exit(f"error: the page has no tables block from {begin!r} to {end!r}")
    head, rest = doc.split(begin, 1)
    marker_line, rest = rest.split("\n", 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}{marker_line}\n\n{text}\n{end}{tail}"


def refresh(pages: dict[Path, str], check: bool, hint: str) -> list[Path]:
    """Write each page whose text is not `pages[page]` and return them; with `check`, write nothing and exit 1 naming
    the stale pages, then `hint` (how to refresh them)."""
    stale = [page for page, text in pages.items() if page.read_text() != text]
    if check:
        if stale:
            sys.exit(", ".join(str(p.relative_to(ROOT)) for p in stale) + f": tables out of date; {hint}")
        return []
    for page in stale:
        write_text(page, pages[page])
    return stale
