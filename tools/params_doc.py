"""Write docs/params.md from the committed params.yaml (its comments) and dae/params.py (what each key allows).

    python tools/params_doc.py            # rewrite docs/params.md
    python tools/params_doc.py --check    # exit 1 if docs/params.md is not what this would write

The defaults and the "meaning" column come from params.yaml as committed (`git show HEAD:./params.yaml`), not from
the workspace copy: `dvc exp run -S ...` rewrites that one, with other values and without its comments. Outside a
git checkout the file itself is read. The "allowed" column is each validator's `allowed` text in dae/params.py.
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dae.io import write_text
from dae.params import LEVEL_KEY, NOISE_TYPES, SCHEMA

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "params.md"
COMMAND = "python tools/params_doc.py"
KEY_LINE = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):(?P<value>.*)$")


@dataclass
class Section:
    comment: str = ""
    keys: dict[str, str] = field(default_factory=dict)  # key -> the comment after it


def committed_params(root: Path = ROOT) -> str:
    """params.yaml as committed at HEAD; the file itself outside a git checkout or before its first commit."""
    try:
        proc = subprocess.run(
            ["git", "-C", str(root), "show", "HEAD:./params.yaml"], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:  # no git on this machine
        proc = None
    if proc is not None and proc.returncode == 0:
        return proc.stdout
    return (root / "params.yaml").read_text()


def split_comment(line: str) -> tuple[str, str]:
    """(content, comment) of one YAML line: a `#` starts a comment only after whitespace and outside quotes."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"" and (i == 0 or line[i - 1] in " :[{,"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1 :].strip()
    return line.rstrip(), ""


def parse_comments(text: str) -> tuple[list[str], dict[str, Section]]:
    """The file's leading comment lines, and per top-level section its own comment and each key's comment."""
    header: list[str] = []
    sections: dict[str, Section] = {}
    current: Section | None = None
    for line in text.splitlines():
        content, comment = split_comment(line)
        match = KEY_LINE.match(content)
        if not content.strip():
            if current is None and comment:
                header.append(comment)
            elif current is not None and comment:  # a comment line inside a section says something about all of it
                current.comment = f"{current.comment} {comment}".strip()
        elif match and not match["indent"]:
            current = sections.setdefault(match["key"], Section())
            current.comment = comment
        elif match and current is not None and len(match["indent"]) == 2:
            current.keys[match["key"]] = comment
    return header, sections


def show(value: Any) -> str:
    """A default as YAML writes it inline: null, true, [32, 64], {type: gaussian, level: 0.1}."""
    if value is None or isinstance(value, bool):
        return yaml.safe_dump(value).splitlines()[0]
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1_000).strip()
    return str(value)


def cell(text: str) -> str:
    """Text safe in a Markdown table cell: `|` would end the cell, `<name>` would vanish as an HTML tag."""
    return re.sub(r"<(?=[A-Za-z/!?])", r"\\<", text.replace("|", "\\|"))


def sentence(text: str) -> str:
    """A section's comment as a sentence under its heading."""
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def code(text: str) -> str:
    return f"`{text}`" if text else ""


def schema_table(name: str, values: dict[str, Any], section: Section) -> list[str]:
    rows = ["| key | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for key in [*SCHEMA[name], *(k for k in values if k not in SCHEMA[name])]:
        spec = SCHEMA[name].get(key)
        allowed = getattr(spec, "allowed", "") if spec else "(unknown key: dae/params.py refuses it)"
        default = code(show(values[key])) if key in values else "(missing from params.yaml)"
        rows.append(f"| `{name}.{key}` | {cell(default)} | {cell(allowed)} | {cell(section.keys.get(key, ''))} |")
    return rows


def entries_table(name: str, values: dict[str, Any]) -> list[str]:
    """`sweep:` and `blind:` name their own entries, so dae/params.py has no fixed keys for them to document."""
    allowed = {
        "sweep": f"`{{type: ..., level: ...}}`, `type` one of {', '.join(NOISE_TYPES)}; `level` is the "
        + ", ".join(f"{key} ({noise_type})" for noise_type, key in LEVEL_KEY.items())
        + "; gaussian entries may add `clip`, which overrides `noise.clip`",
        "blind": f"a list of noise types, each one of {', '.join(NOISE_TYPES)}, that the sweep has settings of",
    }[name]
    rows = [f"Each entry: {allowed}.", "", "| entry | default |", "| --- | --- |"]
    rows += [f"| `{name}.{key}` | {cell(code(show(value)))} |" for key, value in (values or {}).items()]
    return rows


def render(params_text: str) -> str:
    values = yaml.safe_load(params_text)
    header, sections = parse_comments(params_text)
    names = [*values, *(name for name in SCHEMA if name not in values)]
    lines = [
        "# Params reference",
        "",
        f"<!-- Generated by `{COMMAND}` from the committed params.yaml and dae/params.py: edit those, then rerun it."
        " tests/test_docs.py fails while this file is stale. -->",
        "",
        *(cell(line) for line in header),
        "",
        "Defaults are those of the committed `params.yaml`; its comments give the meaning and `dae/params.py` checks"
        " every value before any stage writes anything. Sections: "
        + ", ".join(f"[{name}](#{name})" for name in names)
        + ".",
    ]
    for name in names:
        section = sections.get(name, Section())
        lines += ["", f"## {name}", ""] + ([cell(sentence(section.comment)), ""] if section.comment else [])
        if name in SCHEMA:
            lines += schema_table(name, values.get(name) or {}, section)
        else:
            lines += entries_table(name, values[name])
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/params.md is stale; write nothing")
    parser.add_argument("--params", type=Path, help="read this file instead of the committed params.yaml")
    args = parser.parse_args(argv)
    text = render(args.params.read_text() if args.params else committed_params())
    current = OUT.read_text() if OUT.exists() else ""
    if not args.check:
        write_text(OUT, text)
        print(f"wrote {OUT}")
        return 0
    if current == text:
        return 0
    diff = difflib.unified_diff(current.splitlines(), text.splitlines(), "docs/params.md", "expected", lineterm="")
    print("\n".join(diff), f"\ndocs/params.md is stale: run `{COMMAND}` and commit it", sep="\n", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
