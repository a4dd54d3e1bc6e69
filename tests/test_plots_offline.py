"""`dvc plots show` and `dvc plots diff` write a page that draws every chart with no network (.dvc/plots/offline.html).

The project runs on air-gapped machines, where DVC's default page, which loads vega from a CDN, shows blank charts.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, copy_files, make_project, sh
from dvc_render.html import PAGE_HTML

pytestmark = pytest.mark.slow

TEMPLATE = ROOT / ".dvc" / "plots" / "offline.html"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg"}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium to render the page: apt-get install chromium")


def top_level_plots() -> tuple[list[str], int]:
    """The files the `plots:` section of dvc.yaml reads, and how many of its plots are Vega charts."""
    files, charts = [], 0
    for entry in yaml.safe_load((ROOT / "dvc.yaml").read_text())["plots"]:
        if isinstance(entry, str):
            names = [entry]
        else:
            ((name, props),) = entry.items()
            names = list(props["y"]) if isinstance((props or {}).get("y"), dict) else [name]
        if len(names) == 1 and (ROOT / names[0]).is_dir():  # a folder: one plot per file in it
            inside = sorted(str(f.relative_to(ROOT)) for f in (ROOT / names[0]).iterdir() if f.is_file())
            files += inside
            charts += sum(Path(n).suffix not in IMAGE_SUFFIXES for n in inside)
            continue
        files += names
        charts += not all(Path(n).suffix in IMAGE_SUFFIXES for n in names)
    return files, charts


class Page(HTMLParser):
    """What a page pulls in through its markup (JS strings inside the inlined libraries are not references)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str]] = []
        self.scripts: list[str] = []
        self.in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.refs += [(tag, value or "") for key, value in attrs if key in {"src", "href", "srcset", "data", "action"}]
        self.in_script = tag == "script"

    def handle_endtag(self, tag):
        self.in_script = self.in_script and tag != "script"

    def handle_data(self, data):
        if self.in_script:
            self.scripts.append(data)


class Drawn(HTMLParser):
    """Ids of the Vega containers that hold a chart Vega drew (its <canvas> or <svg>, both of class "marks")."""

    def __init__(self, dom: str, ids: set[str]):
        super().__init__(convert_charrefs=True)
        self.ids, self.drawn = ids, set()
        self.current: str | None = None
        self.depth = 0
        self.feed(dom)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if self.current is None:
            if tag == "div" and attrs.get("id") in self.ids:
                self.current, self.depth = attrs["id"], 1
            return
        self.depth += tag == "div"
        # vega-embed also adds an <svg> icon to its action menu: only the marks are the chart itself.
        if tag in {"canvas", "svg"} and "marks" in (attrs.get("class") or "").split():
            self.drawn.add(self.current)

    def handle_endtag(self, tag):
        if self.current is not None and tag == "div":
            self.depth -= 1
            if self.depth == 0:
                self.current = None


def committed(folder: str) -> list[str]:
    return sh("git", "ls-files", "--", folder, cwd=ROOT).stdout.splitlines()


def vega_ids(page: str) -> set[str]:
    return set(re.findall(r"vegaEmbed\('#([^']+)'", page))


def external_refs(index: Path) -> list[str]:
    """Everything the page would load from outside its own folder, or that its folder lacks."""
    page = Page(index.read_text(encoding="utf-8"))
    bad = []
    for tag, ref in page.refs:
        if ref.startswith("data:"):
            continue
        if tag in {"script", "link"} or re.match(r"[a-z][a-z0-9+.-]*:|//", ref, re.IGNORECASE):
            bad.append(f"<{tag}> {ref}")
            continue
        # DVC writes image plots next to the page (static/); they travel with it, so they count as inside.
        target = (index.parent / ref).resolve()
        if not target.is_file() or index.parent.resolve() not in target.parents:
            bad.append(f"<{tag}> {ref} (missing, or outside {index.parent})")
    for code in page.scripts:
        bad += re.findall(r"""\bimport\s*\(?\s*["'](?:https?:)?//[^"']*|\bfrom\s*["'](?:https?:)?//[^"']*""", code)
    return bad


def render_offline(index: Path, profile: Path) -> str:
    """The page's DOM after headless Chromium ran its scripts with every network request failing."""
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",  # tests run as root
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            # Network off: a dead proxy for every URL, and no name resolves, whatever network the machine has.
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={profile}",
            # vega-embed draws asynchronously: let the page's timers and promises settle before the dump.
            "--virtual-time-budget=10000",
            "--dump-dom",
            index.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its own params and committed plot data: the page users get, without a `dvc repro`."""
    dest = make_project(tmp_path_factory.mktemp("plots") / "project")
    files, _ = top_level_plots()
    # The stages' dvclive loss curves are plots too; params.yaml's sweep names their folders.
    series = [f for f in committed("plots") if Path(f).suffix in {".tsv", ".csv"} and (ROOT / f).is_file()]
    copy_files(sorted({*files, *series, "params.yaml"}), dest)
    sh("git", "add", "-A", cwd=dest)
    sh("git", "commit", "-qm", "plot data", cwd=dest)
    return dest


@pytest.fixture(scope="module")
def shown(project: Path) -> Path:
    out = sh("dvc", "plots", "show", "-o", "shown", cwd=project)
    assert "failed to load" not in out.stdout + out.stderr  # every chart has its data
    return project / "shown" / "index.html"


def test_config_points_plots_at_the_offline_template(project: Path):
    # DVC takes a relative plots.html_template from .dvc/, not from the repository root.
    proc = sh("dvc", "config", "plots.html_template", cwd=project, check=False)
    setting = proc.stdout.strip()
    assert setting and (project / ".dvc" / setting).is_file(), f"plots.html_template is {setting!r}: {proc.stderr}"
    assert (project / ".dvc" / setting).read_bytes() == TEMPLATE.read_bytes()


def test_show_writes_a_page_that_needs_nothing_outside_itself(shown: Path):
    page = shown.read_text(encoding="utf-8")
    assert page.startswith(TEMPLATE.read_text(encoding="utf-8").split("{refresh_tag}")[0])
    _, charts = top_level_plots()
    assert len(vega_ids(page)) >= charts
    assert "<img" in page  # the image plots are part of what is checked
    assert external_refs(shown) == []


def test_diff_writes_a_page_that_needs_nothing_outside_itself(project: Path):
    sh("dvc", "plots", "diff", "HEAD", "-o", "diffed", cwd=project)
    index = project / "diffed" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert page.startswith(TEMPLATE.read_text(encoding="utf-8").split("{refresh_tag}")[0])
    assert '"rev": "HEAD"' in page and '"rev": "workspace"' in page
    assert external_refs(index) == []


@needs_chromium
def test_every_chart_draws_with_the_network_off(shown: Path, tmp_path: Path):
    ids = vega_ids(shown.read_text(encoding="utf-8"))
    assert Drawn(render_offline(shown, tmp_path / "profile"), ids).drawn == ids


@needs_chromium
def test_dvc_default_page_stays_blank_offline(project: Path, tmp_path: Path):
    """The control: without the template the same check fails, so it does see a page that needs the CDN."""
    # DVC's own page, as it uses it when plots.html_template is unset.
    (tmp_path / "default.html").write_text(PAGE_HTML, encoding="utf-8")
    sh("dvc", "plots", "show", "-o", "default", "--html-template", str(tmp_path / "default.html"), cwd=project)
    index = project / "default" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert any("cdn.jsdelivr.net" in ref for ref in external_refs(index))
    assert vega_ids(page) and Drawn(render_offline(index, tmp_path / "profile"), vega_ids(page)).drawn == set()
