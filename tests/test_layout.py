"""The library and the stage scripts stay readable: no function in dae/ or pipeline/ over MAX_LINES lines."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 50  # from the `def` line to the body's last line; bench/ and tests/ are exempt


def long_functions(folder: Path) -> list[str]:
    """`folder/file.py:line name() is N lines` for every function or method over MAX_LINES, nested ones too."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    where = path.relative_to(folder.parent)
                    found.append(f"{where}:{node.lineno} {node.name}() is {lines} lines")
    return found


def test_no_function_in_the_library_or_the_stages_is_over_50_lines():
    found = long_functions(ROOT / "dae") + long_functions(ROOT / "pipeline")
    assert not found, f"split these (at most {MAX_LINES} lines each):\n" + "\n".join(found)


def method_of(lines: int) -> str:
    body = "\n".join(f"        x{i} = {i}" for i in range(lines - 1))
    return f"class A:\n    def method(self):\n{body}\n"


def test_the_check_finds_a_method_one_line_too_long(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "ok.py").write_text(method_of(MAX_LINES))
    (tmp_path / "pkg" / "long.py").write_text(method_of(MAX_LINES + 1))
    assert long_functions(tmp_path / "pkg") == [f"pkg/long.py:2 method() is {MAX_LINES + 1} lines"]
