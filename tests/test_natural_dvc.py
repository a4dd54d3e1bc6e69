"""The natural-image stages through the real `dvc` CLI, on a tiny folder of images the test writes."""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import make_project, sh
from PIL import Image

from dae import load_model
from dae.models import model_extra
from pipeline.repro import compare, natural_record_mismatch, recorded_rows, recorded_run

ROOT = Path(__file__).resolve().parents[1]

# One group: the tests share the module's run and record (under xdist, on one worker).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("natural_dvc")]
ARCH = {
    "hidden": [16],
    "latent": 8,
    "activation": "relu",
    "dropout": 0.0,
    "bottleneck": "dense",
    "norm": "none",
    "noise_map": "none",
}
UNET = {**ARCH, "arch": "unet", "channels": [8, 16], "blocks": 1, "output": "linear"}
NATURAL = {
    "data": {"tiny": {"train": "photos/train", "test": "photos/test"}},
    "sigmas": [25],
    "val_images": 2,
    "patch": 16,
    "patches": 128,
    "val_patches": 32,
    "archs": {
        "dncnn": {**ARCH, "arch": "dncnn", "channels": [8], "blocks": 2, "output": "linear"},
        "unet": UNET,
        "unet-nm": {**UNET, "noise_map": "estimate"},
    },
    "models": {
        "dn-25": {"data": "tiny", "arch": "dncnn", "sigma": 25},
        "un-blind": {"data": "tiny", "arch": "unet", "sigma": "blind"},
    },
    # un-25 grows un-blind's input to take the noise map (dae.models.start_from) as it fine-tunes it.
    "finetune": {
        "un-25": {"from": "un-blind", "data": "tiny", "sigma": 25, "epochs": 2, "lr": 0.001, "arch": "unet-nm"}
    },
    "train": {"epochs": 3, "batch_size": 16, "lr": 0.003},
}


def smooth_images(folder: Path, count: int, shape: tuple[int, int], seed: int) -> None:
    """Blurry random images (a natural image's spectrum falls off; white noise has nothing to learn)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        coarse = rng.integers(0, 256, (shape[0] // 8 + 1, shape[1] // 8 + 1), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((shape[1] + 8, shape[0] + 8), Image.BICUBIC)
        image.crop((0, 0, shape[1], shape[0])).save(folder / f"{i:02d}.png")


@pytest.fixture(scope="module")
def natural_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A small project with a tiny folder pair and NATURAL's models, after `dvc repro evaluate_natural@tiny`."""
    project = make_project(tmp_path_factory.mktemp("natural") / "project")
    smooth_images(project / "photos/train", 8, (40, 40), seed=0)
    smooth_images(project / "photos/test", 2, (36, 44), seed=1)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["natural"] = {**params["natural"], **NATURAL}
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project, sh("dvc", "repro", "evaluate_natural@tiny", cwd=project).stdout


def test_natural_stages_train_evaluate_and_compare_with_bm3d(natural_run: tuple[Path, str]):
    project, out = natural_run
    ran = [line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage '")]
    assert {"natural_data@tiny", "bm3d_natural@tiny", "train_natural@dn-25", "train_natural@un-blind"} <= set(ran)
    assert ran.index("finetune_natural@un-25") > ran.index("train_natural@un-blind")
    result = json.loads((project / "metrics/natural/tiny.json").read_text())
    table = result["table"]
    assert set(table) == {"noisy", "bm3d", "dn-25", "un-blind", "un-25"} and set(table["dn-25"]) == {"25"}
    for method in ("bm3d", "dn-25", "un-blind", "un-25"):
        assert table[method]["25"]["psnr"] > table["noisy"]["25"]["psnr"] + 2, (method, table)
    for method in ("dn-25", "un-blind", "un-25"):  # each model also through the x8 self-ensemble
        assert table[method]["25"]["x8"]["psnr"] > table["noisy"]["25"]["psnr"] + 2, (method, table)
        assert table[method]["25"]["x8"]["psnr"] != table[method]["25"]["psnr"]
    assert result["best"]["25"] in ("dn-25", "un-blind", "un-25")
    tuned = project / "data/models/natural/un-25.safetensors"
    assert model_extra(tuned)["from"] == "un-blind" and model_extra(tuned)["sigma"] == 25
    assert load_model(tuned).config["noise_map"] == "estimate"
    assert (project / "plots/natural/tiny.png").read_bytes()[:4] == b"\x89PNG"
    csv = (project / "plots/natural/tiny.csv").read_text()
    assert "method,sigma,psnr,ssim" in csv and "\nun-25 x8,25," in csv
    blind = project / "data/models/natural/un-blind.safetensors"
    assert load_model(blind).stride == 2 and model_extra(blind)["sigma"] == "blind"
    assert sh("dvc", "status", "-q", "evaluate_natural@tiny", cwd=project, check=False).returncode == 0


CHECK = [sys.executable, "-m", "pipeline.repro_check", "--natural", "--config", "configs/tiny.yaml"]


@pytest.fixture(scope="module")
def recorded(natural_run: tuple[Path, str]) -> tuple[Path, Path]:
    """The small project with its run recorded (`tools/natural_tables.py --record`) and its config, committed."""
    project, _ = natural_run
    record = project / "docs/data/natural.json"
    record.parent.mkdir(parents=True)
    sh(sys.executable, str(ROOT / "tools/natural_tables.py"), str(project), "tiny", "--record", "--out", str(record),
       cwd=ROOT)  # fmt: skip
    (project / "configs").mkdir()
    shutil.copyfile(project / "params.yaml", project / "configs/tiny.yaml")
    sh("git", "add", "-A", cwd=project)
    sh("git", "commit", "-qm", "recorded tiny natural run", cwd=project)
    return project, record


def test_repro_check_reproduces_a_recorded_natural_run_and_flags_a_changed_number(recorded: tuple[Path, Path]):
    project, record = recorded
    proc = sh(*CHECK, cwd=project)
    assert "0 differ (recorded vs reproduced)" in proc.stdout, proc.stdout
    assert "data/models/natural/un-25.safetensors" in proc.stdout and "metrics/natural/tiny.json:" in proc.stdout
    # The same comparison against a record whose U-Net scored 1 dB more, and one recorded with other params.
    saved = json.loads(record.read_text())
    saved["metrics"]["table"]["un-25"]["25"]["psnr"] += 1.0
    rows = compare(recorded_run(saved, project.parent / "edited"), project, exact=False)
    assert [r["what"] for r in rows if r["status"].startswith("DIFFERS")] == [
        "metrics/natural/tiny.json:table.un-25.25.psnr"
    ]
    # A record made before x8 was scored: its missing x8 rows are left out, and nothing else is.
    for method in ("dn-25", "un-blind", "un-25"):
        saved["metrics"]["table"][method]["25"].pop("x8")
    early = compare(recorded_run(saved, project.parent / "early"), project, exact=False)
    rows, notes = recorded_rows(early, saved)
    assert not any(".x8." in r["what"] for r in rows) and notes == [
        "was recorded before the x8 self-ensemble was scored: its x8 rows are not compared."
    ]
    assert [r["what"] for r in rows if r["status"].startswith("DIFFERS")] == [
        "metrics/natural/tiny.json:table.un-25.25.psnr"
    ]
    params = yaml.safe_load((project / "configs/tiny.yaml").read_text())
    params["natural"]["finetune"]["un-25"]["epochs"] = 3
    assert natural_record_mismatch(saved, params) == ["natural.models and natural.finetune of tiny differ"]


def test_repro_check_names_a_config_or_record_it_cannot_check_in_one_line(recorded: tuple[Path, Path]):
    """A config that exists only in the working tree (by a relative or an absolute path), one that exists nowhere, and
    a record outside the repository: HEAD's copy has none of them, so one line each, before any copy runs DVC."""
    project, record = recorded
    shutil.copyfile(project / "configs/tiny.yaml", project / "configs/draft.yaml")
    for given in ("configs/draft.yaml", str(project / "configs/draft.yaml")):
        proc = sh(*CHECK[:-1], given, cwd=project, check=False)
        assert proc.returncode == 1 and proc.stdout == (
            f"--config {given}: not committed at HEAD; the check runs a copy of HEAD, so commit it first\n"
        ), proc.stdout + proc.stderr
    proc = sh(
        *CHECK[:-1], "configs/tniy.yaml", "--record", str(record.parent.parent.parent.parent), cwd=project, check=False
    )
    assert proc.returncode == 1 and proc.stdout == (
        "--config configs/tniy.yaml: no such file in the repository; give a file committed at HEAD\n"
        f"--record {record.parent.parent.parent.parent}: outside the repository; give a file committed at HEAD\n"
    ), proc.stdout + proc.stderr
