"""The tables block of a generated docs page: everything between a `<!-- tables: ...` line and its end marker."""


def replace_tables(doc: str, begin: str, end: str, text: str) -> str:
    """`doc` with the block after the line starting `begin` and before `end` replaced by `text`."""
    head, rest = doc.split(begin, 1)
    marker_line, rest = rest.split("\n", 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}{marker_line}\n\n{text}\n{end}{tail}"
