"""dvc.yaml lists, for every stage, every project module its script imports, so a code change reruns it."""

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_file(name: str) -> Path | None:
    path = ROOT / Path(*name.split("."))
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return path / "__init__.py" if (path / "__init__.py").is_file() else None


def top_level(tree: ast.AST):
    """Statements that run at import time (not function bodies: dae/__init__ imports dae.models lazily)."""
    for node in ast.iter_child_nodes(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield node
            yield from top_level(node)


def project_imports(script: Path) -> set[str]:
    """Files of the project's own modules that `script` imports, transitively (package __init__ files too)."""
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in top_level(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.split(".")[0] in ("dae", "pipeline"):
                    parts = name.split(".")
                    for i in range(1, len(parts) + 1):  # importing dae.noise runs dae/__init__.py first
                        found = module_file(".".join(parts[:i]))
                        if found:
                            todo.append(found)
    return {str(p.relative_to(ROOT)) for p in seen}


def code_deps(stage: str) -> tuple[set[str], set[str]]:
    """(project files the stage's script imports, the dae/ and pipeline/ entries its deps list)."""
    body = STAGES[stage].get("do", STAGES[stage])
    module = body["cmd"].split()[2]  # python -m pipeline.<name> ...
    script = ROOT / (module.replace(".", "/") + ".py")
    needed = project_imports(script) - {"pipeline/__init__.py"}
    return needed, {d for d in body["deps"] if d.split("/")[0] in ("dae", "pipeline")}


def covered(path: str, deps: set[str]) -> bool:
    """Listed itself, or inside a listed folder (a package such as dae/models: a new module in it is a dep too)."""
    return any(path == d or path.startswith(f"{d}/") for d in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_the_code_it_runs(stage):
    needed, deps = code_deps(stage)
    missing = {path for path in needed if not covered(path, deps)}
    assert not missing, f"stage {stage} runs {sorted(missing)} but does not list them in deps"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_list_only_the_code_it_runs(stage):
    # A listed module the stage never imports would rerun it for nothing; a listed folder must be all imported.
    needed, deps = code_deps(stage)
    for dep in deps:
        files = {str(p.relative_to(ROOT)) for p in (ROOT / dep).rglob("*.py")} if (ROOT / dep).is_dir() else {dep}
        assert files <= needed, f"stage {stage} lists {dep} but does not run {sorted(files - needed)}"


def test_dvc_lock_holds_no_stage_that_dvc_yaml_lost():
    """DVC leaves a removed stage's entry in dvc.lock; `repro_check` would then read its stale output hashes (an
    output that a stage of today also writes would be compared by the old stage's hash, on both sides)."""
    lock = yaml.safe_load((ROOT / "dvc.lock").read_text())["stages"]
    assert sorted(s for s in lock if s.split("@")[0] not in STAGES) == []
