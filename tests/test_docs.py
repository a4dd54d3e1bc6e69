"""Every code block in README.md and docs/*.md is run by a test, or checked where a run would take minutes.

A fenced block is one of:
- ```bash: commands. Every one is checked in seconds (test_commands_are_valid): dvc commands by dvc's own argument
  parser, their `-S` overrides applied by dvc's own code and validated by dae.params, their stages looked up in
  dvc.yaml; pip, pytest, ruff and cp by what they need; `python ...` by the program's own argument parser
  (test_python_commands_parse); dae-denoise by its own, its inputs files of the repository. The dvc commands are
  then run, in the docs' order, in one tiny copy of the project (test_dvc_commands_run_in_a_tiny_project) unless
  NOT_RUN names them, with the reason.
- ```python: run block after block, a fresh namespace per document, on the workspace's `dvc repro` outputs
  (test_python_blocks_run). Only README.md and docs/guide.md may have them.
- ```text (output shown) and ```mermaid (a diagram): not commands.
Anything else fails test_every_block_is_run_or_shown, so a new block cannot slip past the tests.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import importlib.util
import inspect
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import copy_project, git_repo, sh

from dae.params import ParamError, load_params, validate

ROOT = Path(__file__).resolve().parents[1]
# README first: the tiny project runs the commands in the order a reader meets them.
GUIDE = ROOT / "docs" / "guide.md"
DOCS = [ROOT / "README.md", GUIDE, *sorted(set((ROOT / "docs").glob("*.md")) - {GUIDE})]
PYTHON_DOCS = ("README.md", "docs/guide.md")
SHOWN = {"text", "mermaid"}
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<code>.*?)^(?P=indent)``` *$", re.M | re.S)
# dvc commands the tiny project does not run; each is still checked by test_commands_are_valid.
NOT_RUN = {
    r"data\.name=(?!digits)|^dvc exp run -n mnist": "reads MNIST or CIFAR-10: a mirror or the network, and minutes "
    "(48 for the MNIST sweep); tests/test_datasets.py reads the mirror's MNIST",
    r"^dvc exp run -n studies": "trains 35 models on MNIST and fits 8 probes on 54,000 images (16 minutes on 2 cores); "
    "tests/test_studies.py and the tiny project's `dvc repro study probe` run the same stages on the digits",
    r"^dvc exp run -n natural": "trains six natural-image models on Train400 (about 70 minutes on 2 cores); "
    "tests/test_natural_dvc.py runs the same stages on a tiny folder of images",
    r"^dvc exp run -n anomaly": "trains 120 one-class models on MNIST and Fashion-MNIST (9 minutes); "
    "tests/test_anomaly.py trains one-class models on the digits and lists the per-class stages",
    r"-S (\+\+)?(model|train)\.|-S noise\.(clip|seed|salt_ratio)=": "retrains every model of the pipeline: half a "
    "minute even in the tiny project, each (`train.gpu` too: on the CPU it changes nothing but the params DVC hashes)",
    r"^dvc (push|pull)$|^dvc remote add": "needs a remote, a git remote and credentials: "
    "tests/test_remote.py runs push, pull and exp push/pull with a local-folder remote and a bare git repository",
    r"--queue|^dvc queue ": "a queue of experiments: tests/test_sweeps.py runs one on two workers",
    r"-S noise\.type=": "reruns the main chain, as `dvc exp run -S noise.std=0.5` does, which runs",
}
# Environment variables the docs may set that the project does not read itself.
OTHER_ENV = {"OMP_NUM_THREADS"}
# One thread per process: on a busy 2-core machine torch's OpenMP threads spin against other processes, and a
# 0.2 s training took 21 s. The docs' own settings win where they set it.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    code: str


@dataclass(frozen=True)
class Command:
    where: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return " ".join(self.argv)


def blocks(doc: Path) -> list[Block]:
    text = doc.read_text()
    return [
        Block(
            str(doc.relative_to(ROOT)),
            text.count("\n", 0, m.start()) + 1,
            m["lang"],
            "\n".join(line[len(m["indent"]) :] for line in m["code"].splitlines()),
        )
        for m in FENCE.finditer(text)
    ]


def all_blocks() -> list[Block]:
    return [block for doc in DOCS for block in blocks(doc)]


def commands(block: Block) -> list[Command]:
    """The block's commands as a shell would split them: `\\` joins lines, `&&` separates, `#` starts a comment."""
    out, pending, start = [], "", 0
    for i, line in enumerate(block.code.splitlines()):
        start = start if pending else i
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        tokens, pending = shlex.split(pending + line, comments=True), ""
        where = f"{block.doc}:{block.line + 1 + start}"
        unsupported = {"|", ";", ">", "<", "||", "&"} & set(tokens)
        assert not unsupported, f"{where}: {unsupported} in `{line}`: the tests cannot run that"
        parts: list[list[str]] = [[]]
        for token in tokens:
            if token == "&&":
                parts.append([])
            else:
                parts[-1].append(token)
        for words in filter(None, parts):
            env = tuple(tuple(w.split("=", 1)) for w in words if re.match(r"^[A-Z_][A-Z0-9_]*=", w))
            out.append(Command(where, tuple(words[len(env) :]), env))  # type: ignore[arg-type]
    return out


def all_commands() -> list[Command]:
    return [cmd for block in all_blocks() if block.lang == "bash" for cmd in commands(block)]


def not_run_reason(cmd: Command) -> str:
    if cmd.argv[0] != "dvc":
        return "not a dvc command: checked only"
    return next((why for pattern, why in NOT_RUN.items() if re.search(pattern, cmd.text)), "")


def committed_params_text() -> str:
    proc = subprocess.run(["git", "show", "HEAD:./params.yaml"], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else (ROOT / "params.yaml").read_text()


def overridden(params_text: str, overrides: list[str]) -> list[dict[str, Any]]:
    """The validated params of each run `dvc exp run -S ...` would make: dvc's own code applies the overrides."""
    from dvc.repo.experiments.run import to_path_overrides
    from dvc.utils.hydra import apply_overrides, get_hydra_sweeps, to_hydra_overrides

    if not overrides:
        return [validate(yaml.safe_load(params_text))]
    path_overrides = to_path_overrides(overrides)
    assert set(path_overrides) == {"params.yaml"}, path_overrides
    is_sweep = any(o.is_sweep_override() for o in to_hydra_overrides(path_overrides["params.yaml"]))
    runs = get_hydra_sweeps(path_overrides) if is_sweep else [path_overrides]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            path = Path(tmp) / "params.yaml"
            path.write_text(params_text)
            apply_overrides(path, run["params.yaml"])
            out.append(load_params(path))
    return out


def _param(params: dict[str, Any], ref: str) -> Any:
    """The value of a `${a.b}` reference of dvc.yaml in `params`."""
    value = params
    for key in re.fullmatch(r"\$\{([\w.]+)\}", ref)[1].split("."):
        value = value[key]
    return value


def stage_names(params: dict[str, Any]) -> set[str]:
    """Every stage name dvc.yaml expands to under `params` (foreach keys, matrix products joined by "-")."""
    names = set()
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        names.add(name)  # a foreach or matrix stage's name is a target too: the whole group
        if "foreach" in stage:
            names |= {f"{name}@{key}" for key in _param(params, stage["foreach"])}
        elif "matrix" in stage:
            axes = [_param(params, ref) for ref in stage["matrix"].values()]
            names |= {f"{name}@" + "-".join(map(str, combo)) for combo in itertools.product(*axes)}
    return names


def check_dvc(cmd: Command, params_text: str) -> None:
    from dvc.cli import parse_args

    args = parse_args(list(cmd.argv[1:]))  # dvc's own parser: an unknown flag or subcommand raises
    runs = overridden(params_text, getattr(args, "set_param", None) or [])
    assert len(runs) == 1 or getattr(args, "queue", False), f"{cmd.where}: a sweep of -S values needs --queue"
    targets = getattr(args, "targets", None) or []
    if cmd.argv[1:3] == ("exp", "run") or cmd.argv[1] == "repro":
        for params in runs:
            unknown = set(targets) - stage_names(params)
            assert not unknown, f"{cmd.where}: no stage {unknown} in dvc.yaml"
    else:
        dvc_yaml = (ROOT / "dvc.yaml").read_text()
        assert all(t in dvc_yaml for t in targets), f"{cmd.where}: {targets} are not outputs in dvc.yaml"


def check_other(cmd: Command, params_text: str) -> str:
    """Commands that are not run: pip, pytest, ruff, cp, python, dae-denoise. Returns params.yaml as the reader now
    has it."""
    prog, args = cmd.argv[0], cmd.argv[1:]
    pyproject = (ROOT / "pyproject.toml").read_text()
    if prog == "pip":
        extras = re.findall(r"\.\[([\w,]+)\]", " ".join(args))
        section = pyproject.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
        assert all(re.search(rf"^{e}\s*=", section, re.M) for x in extras for e in x.split(",")), cmd.where
    elif prog == "pytest" or args[:2] == ("-m", "pytest"):
        markers = set(re.findall(r'"(\w+):', pyproject.split("markers", 1)[1]))
        rest = args[2:] if prog == "python" else args
        expression = rest[rest.index("-m") + 1] if "-m" in rest else ""
        words = set(re.findall(r"\w+", expression)) - {"and", "or", "not"}
        assert words <= markers, f"{cmd.where}: unregistered pytest markers {words - markers}"
    elif prog == "ruff":
        with tempfile.TemporaryDirectory() as tmp:  # the flags and the config, not the state of the code
            shutil.copy(ROOT / "pyproject.toml", tmp)
            proc = subprocess.run(cmd.argv, cwd=tmp, capture_output=True, text=True)
            assert proc.returncode == 0, f"{cmd.where}: `{cmd.text}`: {proc.stderr}"
    elif prog == "cp":
        source, dest = (ROOT / args[0]), args[1]
        assert source.is_file(), f"{cmd.where}: no {args[0]}"
        if dest == "params.yaml":
            load_params(source)
            return source.read_text()
    elif prog == "dae-denoise":  # its own parser, and inputs that are in the repository (a reader can run it)
        from dae.cli import parser

        inputs = parser().parse_args(list(args)).inputs
        assert all((ROOT / i).is_file() for i in inputs), f"{cmd.where}: {inputs} are not files of the repository"
    else:
        assert prog == "python", f"{cmd.where}: no check for `{cmd.text}`; add one to tests/test_docs.py"
        assert args[0] == "-m" or (ROOT / args[0]).is_file(), f"{cmd.where}: no {args[0]}"
    return params_text


def check_env(cmd: Command) -> None:
    source = "".join(p.read_text() for folder in ("dae", "pipeline") for p in (ROOT / folder).glob("*.py"))
    for name, _ in cmd.env:
        assert name in OTHER_ENV or name in source, f"{cmd.where}: nothing reads ${name}"


def test_every_block_is_run_or_shown():
    found = {"bash": 0, "python": 0}
    for block in all_blocks():
        where = f"{block.doc}:{block.line}"
        assert block.lang in {*found, *SHOWN}, f"{where}: ```{block.lang}: use bash or python (run by tests), or text"
        if block.lang == "python":
            assert block.doc in PYTHON_DOCS, f"{where}: a python block outside {PYTHON_DOCS} that no test runs"
        found[block.lang] = found.get(block.lang, 0) + 1
    assert found["bash"] > 10 and found["python"] > 10, found


def test_commands_are_valid():
    for block in all_blocks():
        if block.lang != "bash":
            continue
        params_text = committed_params_text()  # each block starts from the committed params.yaml
        for cmd in commands(block):
            try:
                check_env(cmd)
                if cmd.argv[0] == "dvc":
                    check_dvc(cmd, params_text)
                else:
                    params_text = check_other(cmd, params_text)
            except Exception as exc:  # dvc's parser, dvc's overrides and dae.params raise their own errors
                raise AssertionError(f"{cmd.where}: `{cmd.text}`: {exc!r}") from exc


def test_a_bad_command_is_caught():
    from dvc.cli import DvcParserError
    from dvc.utils.hydra import InvalidArgumentError

    params = committed_params_text()
    with pytest.raises(ParamError, match="train.epochs = 0 is not allowed"):
        check_dvc(Command("x.md:1", ("dvc", "exp", "run", "-S", "train.epochs=0")), params)
    with pytest.raises(InvalidArgumentError):  # dvc itself refuses to set a key params.yaml does not have
        check_dvc(Command("x.md:1", ("dvc", "exp", "run", "-S", "noise.sdt=0.5")), params)
    with pytest.raises(DvcParserError):
        check_dvc(Command("x.md:1", ("dvc", "exp", "run", "--sweep")), params)
    with pytest.raises(AssertionError, match="no stage"):
        check_dvc(Command("x.md:1", ("dvc", "repro", "train_sweep@gaussian-0.7")), committed_params_text())
    with pytest.raises(AssertionError, match="no check"):
        check_other(Command("x.md:1", ("make", "all")), "")


QUOTED_ERROR = re.compile(
    r"`(?:error: )?(params: (?:(?P<key>[\w.]+) = (?P<value>[^`]+?) is not allowed; expected [^`]+"
    r"|unknown key (?P<typo>[\w.]+); did you mean [^`]+))`"
)


def test_error_messages_the_docs_quote_are_the_codes():
    quoted = [m for doc in DOCS for m in QUOTED_ERROR.finditer(prose(doc))]
    for match in quoted:
        raw = yaml.safe_load(committed_params_text())
        section, key = (match["key"] or match["typo"]).split(".")
        raw[section][key] = yaml.safe_load(match["value"]) if match["key"] else 1
        with pytest.raises(ParamError) as caught:
            validate(raw)
        assert str(caught.value) == match[1]
    assert quoted, "the docs quote no params error"


def test_not_run_list_names_commands_in_the_docs():
    texts = [cmd.text for cmd in all_commands()]
    for pattern, why in NOT_RUN.items():
        assert any(re.search(pattern, text) for text in texts), f"NOT_RUN entry {pattern!r} ({why}) matches nothing"


PARSE_ONLY = r"""
import argparse, json, os, runpy, sys

class Parsed(Exception):
    pass

parse = argparse.ArgumentParser.parse_args

def parse_only(self, args=None, namespace=None):
    parse(self, args, namespace)  # exits 2 on an unknown flag or a bad value
    raise Parsed

argparse.ArgumentParser.parse_args = parse_only
failed = []
for where, argv in json.loads(sys.argv[1]):
    sys.argv = [argv[1] if argv[0] == "-m" else argv[0], *argv[(2 if argv[0] == "-m" else 1):]]
    try:
        if argv[0] == "-m":
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(argv[0])))  # as `python script.py` does
            runpy.run_path(argv[0], run_name="__main__")
        failed.append(f"{where}: {argv} never parsed its arguments")
    except Parsed:
        pass
    except BaseException as exc:
        failed.append(f"{where}: {argv}: {exc!r}")
print("\n".join(failed))
sys.exit(1 if failed else 0)
"""


def test_python_commands_parse():
    """`python -m bench`, `python tools/params_doc.py`, ...: their own argparse accepts the docs' arguments."""
    runs = [
        (cmd.where, list(cmd.argv[1:]))
        for cmd in all_commands()
        if cmd.argv[0] == "python" and cmd.argv[1:3] != ("-m", "pytest")
    ]
    assert runs, "the docs name no python commands"
    proc = subprocess.run(
        [sys.executable, "-c", PARSE_ONLY, json.dumps(runs)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]


@pytest.mark.slow
def test_dvc_commands_run_in_a_tiny_project(tmp_path: Path, reproduced: tuple[Path, str]):
    # The reproduced project is what the README's first command, `dvc repro` from clean, made of conftest's small
    # project (its sweep holds the gaussian-0.5 the docs name), so here that command finds nothing left to do.
    project = copy_project(reproduced[0], tmp_path / "project")
    ran: list[str] = []
    for cmd in all_commands():
        if not_run_reason(cmd) or cmd.text in ran:
            continue
        argv = list(cmd.argv)
        if "<exp>" in argv:  # a placeholder the reader fills in with one of their experiments
            name = sh("dvc", "exp", "ls", "--name-only", cwd=project).stdout.split()[-1]
            argv = [name if a == "<exp>" else a for a in argv]
        proc = sh(*argv, cwd=project, env={**ONE_THREAD, **dict(cmd.env)}, check=False)
        assert proc.returncode == 0, f"{cmd.where}: `{cmd.text}` failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        ran.append(cmd.text)
    assert ran[0] == "dvc repro" and "dvc exp run -S noise.std=0.5" in ran, ran
    assert (project / "dvc_plots" / "index.html").is_file()
    # After everything a reader ran, the outputs are those of the params in the workspace.
    assert "up to date" in sh("dvc", "status", cwd=project).stdout


RUN_PYTHON = r"""
import json, sys
for doc, blocks in json.loads(sys.argv[1]).items():
    namespace = {"__name__": "__main__"}
    for line, code in blocks:
        exec(compile(code, f"{doc}:{line}", "exec"), namespace)
    if doc == "README.md":
        assert namespace["denoised"].shape == namespace["noisy"].shape
"""


@pytest.mark.skipif(
    not (ROOT / "data" / "models" / "main.safetensors").is_file(),
    reason="needs the workspace's `dvc repro` outputs (CI runs `dvc repro` before the tests)",
)
def test_python_blocks_run(tmp_path: Path):
    if yaml.safe_load((ROOT / "params.yaml").read_text())["data"]["name"] != "digits":
        pytest.skip("the workspace holds an experiment on another dataset; the blocks are written for digits")
    code = {
        doc: [(b.line, b.code.replace("/tmp/", f"{tmp_path}/")) for b in blocks(ROOT / doc) if b.lang == "python"]
        for doc in PYTHON_DOCS
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN_PYTHON, json.dumps(code)],
        cwd=ROOT,
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "my_grid.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "val_grid.gif").read_bytes()[:3] == b"GIF"


def test_package_docstring_example_runs():
    import dae

    result = doctest.testmod(dae, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0, result


def load_params_doc() -> Any:
    spec = importlib.util.spec_from_file_location("params_doc", ROOT / "tools" / "params_doc.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_params_reference_is_current(capsys: pytest.CaptureFixture[str]):
    assert load_params_doc().main(["--check"]) == 0, capsys.readouterr().err


def test_params_reference_check_fails_on_a_stale_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    params_doc = load_params_doc()
    params_doc.OUT = tmp_path / "params.md"
    params_doc.OUT.write_text("# Params reference\n\nhand-edited\n")
    assert params_doc.main(["--check"]) == 1
    assert "-hand-edited" in capsys.readouterr().err  # the diff shows what would change
    assert params_doc.main([]) == 0 and params_doc.main(["--check"]) == 0  # rewriting it makes it current


def test_params_reference_reads_the_committed_params(tmp_path: Path):
    params_doc = load_params_doc()
    git_repo(tmp_path)
    (tmp_path / "params.yaml").write_text("noise:\n  std: 0.3  # committed\n")
    sh("git", "add", "params.yaml", cwd=tmp_path)
    sh("git", "commit", "-qm", "params", cwd=tmp_path)
    (tmp_path / "params.yaml").write_text("noise:\n  std: 0.5\n")  # as `dvc exp run -S noise.std=0.5` leaves it
    assert params_doc.committed_params(tmp_path) == "noise:\n  std: 0.3  # committed\n"
    shutil.rmtree(tmp_path / ".git")
    assert params_doc.committed_params(tmp_path) == "noise:\n  std: 0.5\n"


def test_params_reference_rows_come_from_comments_and_validators():
    from dae.params import SCHEMA

    text = (
        "# Top comment.\n"
        "noise:   # the main | setting\n"
        "  std: 0.3     # gaussian: std on <the> scale\n"
        "  sdt: 1\n"
        "data:\n"
        "  mirror: 'a # b'  # where\n"
        "sweep:\n"
        "  g: {type: gaussian, level: 0.1}\n"
    )
    page = load_params_doc().render(text)
    std_allowed = getattr(SCHEMA["noise"]["std"], "allowed", "")
    assert f"| `noise.std` | `0.3` | {std_allowed} | gaussian: std on \\<the> scale |" in page
    assert "The main \\| setting." in page and "Top comment." in page
    assert "| `noise.sdt` | `1` | (unknown key" in page
    assert "| `data.mirror` | `a # b` |" in page and "| where |" in page
    assert "| `noise.clip` | (missing from params.yaml) |" in page
    assert "| `sweep.g` | `{type: gaussian, level: 0.1}` |" in page
    assert "## baselines" in page  # a section params.yaml lacks is still listed


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CODE_FILE = re.compile(r"(?<![\w/.-])((?:dae|pipeline|tests|bench|tools|configs)/[\w/.-]+\.(?:py|yaml|json))\b")


def prose(doc: Path) -> str:
    """The Markdown without its fenced blocks."""
    return FENCE.sub("", doc.read_text())


def anchors(doc: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.*)$", prose(doc), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def committed_files() -> set[Path]:
    """What HEAD holds: a failed stage deletes its committed outputs (plots/...) until `dvc checkout`."""
    proc = subprocess.run(["git", "ls-tree", "-r", "--name-only", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {ROOT / name for name in proc.stdout.splitlines()}


def test_links_pictures_and_files_resolve():
    committed = committed_files()
    for doc in DOCS:
        text = prose(doc)
        for target in LINK.findall(text):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            assert file.exists() or file in committed, f"{doc.name}: {target} does not exist"
            assert not anchor or anchor in anchors(file), f"{doc.name}: no heading #{anchor} in {file.name}"
        for name in CODE_FILE.findall(text):
            assert (ROOT / name).is_file(), f"{doc.name} names {name}, which does not exist"


REFERENCE = re.compile(
    r"`(?:(?P<package>dae|pipeline)/(?P<file>\w+)\.py: |dae\.(?:(?P<mod>\w+)\.)?)(?P<name>\w+)(?:\((?P<args>[^`]*)\))?`"
)


def resolve(match: re.Match) -> Any:
    import dae

    if match["file"]:
        return getattr(importlib.import_module(f"{match['package']}.{match['file']}"), match["name"])
    if match["mod"]:
        return getattr(importlib.import_module(f"dae.{match['mod']}"), match["name"])
    try:
        return getattr(dae, match["name"])
    except AttributeError:
        return importlib.import_module(f"dae.{match['name']}")


def check_signature(obj: Any, args: str, where: str) -> None:
    """Each parameter the docs write exists, in that order, with the default they give."""
    parameters = inspect.signature(obj).parameters
    names, last = list(parameters), -1
    for arg in filter(None, (a.strip() for a in args.split(","))):
        if arg == "...":
            continue
        name, has_default, default = arg.partition("=")
        assert name in names and names.index(name) > last, f"{where}: no parameter {name} (has {names})"
        last = names.index(name)
        if has_default:
            actual = parameters[name].default
            assert ast.literal_eval(default) == actual, f"{where}: {name}={default}, but the code has {actual!r}"


def test_functions_the_docs_name_exist_with_those_parameters():
    checked = 0
    for doc in DOCS:
        for match in REFERENCE.finditer(prose(doc)):
            where = f"{doc.name}: {match[0]}"
            try:
                obj = resolve(match)
            except (AttributeError, ImportError) as exc:
                raise AssertionError(f"{where}: {exc}") from None
            if match["args"] is not None and callable(obj):
                check_signature(obj, match["args"], where)
                checked += 1
    assert checked > 10


def test_anomaly_tables_are_the_committed_run():
    """docs/anomaly.md's tables are what tools/anomaly_tables.py makes of the MNIST / Fashion-MNIST run's JSON."""
    proc = subprocess.run(
        [sys.executable, "tools/anomaly_tables.py", "docs/data/anomaly.json", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads((ROOT / "docs/data/anomaly.json").read_text())
    assert set(data) == {"mnist", "fashion_mnist"}
    for result in data.values():
        assert result["best"] in result["scores"] and "mse" in result["scores"]
        assert len(result["scores"]["mse"]["auroc"]) == 10
    doc = (ROOT / "docs/anomaly.md").read_text()
    best = data["mnist"]["scores"][data["mnist"]["best"]]["seeds"]
    assert f"**{100 * best['mean_auroc']:.1f}** ± {100 * best['std_mean_auroc']:.1f}" in doc


def _committed_files(folder: Path, *specs: str) -> list[str]:
    """The files git tracks under `specs`, copied under `folder` as committed (the workspace may hold an experiment's);
    the workspace's files where there is no git history (an unpacked archive)."""
    from conftest import committed_text

    proc = subprocess.run(["git", "ls-files", *specs], cwd=ROOT, capture_output=True, text=True)
    names = proc.stdout.split() if proc.returncode == 0 else []
    if not names:
        paths = [p for spec in specs for p in ([ROOT / spec] if (ROOT / spec).is_file() else (ROOT / spec).rglob("*"))]
        names = [str(p.relative_to(ROOT)) for p in paths if p.is_file()]
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(committed_text(name))
    return names


def test_digits_tables_are_the_committed_run(tmp_path: Path):
    """README.md's results table and docs/results.md's digits tables are what tools/digits_tables.py makes of the
    committed metrics, and the check notices one number moved."""
    _committed_files(tmp_path, "metrics/eval.json", "metrics/cross_noise.json", "metrics/sweep", "metrics/baselines")
    metrics = tmp_path / "metrics"
    check = [sys.executable, "tools/digits_tables.py", str(metrics), "--check"]
    proc = subprocess.run(check, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    moved = json.loads((metrics / "baselines/gaussian-0.5.json").read_text())
    moved["median"]["psnr"] += 0.01
    (metrics / "baselines/gaussian-0.5.json").write_text(json.dumps(moved))
    proc = subprocess.run(check, cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 1 and "results.md: tables out of date" in proc.stderr


def test_studies_tables_are_the_committed_runs(tmp_path: Path):
    """docs/studies.md's digits tables are the committed metrics (not the workspace's: it may hold an experiment)."""
    listed = _committed_files(tmp_path, "metrics/studies", "metrics/probe.json")
    runs = [(tmp_path / "metrics", "digits")]
    if (ROOT / "docs/data/mnist").is_dir():
        runs.append((ROOT / "docs/data/mnist", "mnist"))
    for folder, tag in runs:
        proc = subprocess.run(
            [sys.executable, "tools/study_tables.py", str(folder), "--check", tag],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
    assert len(listed) >= 2
