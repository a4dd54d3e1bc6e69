"""Stage `evaluate_natural@<name>`: every model of `natural.models` and `natural.finetune` trained on data `<name>`,
on the whole noisy test images (`dae.denoise_image`), scored by the field's protocol beside the noisy input and
BM3D; a per-sigma model at its own sigma, a blind one at every sigma, each also with the x8 self-ensemble (the mean
over the 8 flips and turns, `ensemble=8`). Writes the table as JSON and CSV, and a picture of crops per method."""

import argparse
import csv
import io
import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dae.inference import denoise_image
from dae.io import load_arrays, write_json, write_text
from dae.models import DenoisingAutoencoder, load_model
from dae.natural import noise_tag, score
from dae.params import check_unchanged, load_params, natural_models
from dae.visualise import plot_method_grid
from pipeline._stage import run

log = logging.getLogger(__name__)
CROP = 96  # side of the example crops, from the centre of each of the first test images


def mean(per_image: dict[str, dict[str, float]]) -> dict[str, float]:
    return {k: sum(s[k] for s in per_image.values()) / len(per_image) for k in ("psnr", "ssim")}


def crop(image: np.ndarray) -> np.ndarray:
    top, left = (image.shape[0] - CROP) // 2, (image.shape[1] - CROP) // 2
    return image[top : top + CROP, left : left + CROP][None]


def score_all(
    model: DenoisingAutoencoder, arrays: dict, names: list[str], tag: str, tile: int, ensemble: int
) -> tuple[dict, dict]:
    """({image: scores}, {image: output}) of one model on every test image at noise level `tag`."""
    outs = {n: denoise_image(model, arrays[f"test_noisy/{tag}/{n}"], tile=tile, ensemble=ensemble) for n in names}
    return {n: score(outs[n], arrays[f"test/{n}"]) for n in names}, outs


def run_models(params: dict, name: str, arrays: dict, names: list[str], models: Path) -> tuple[dict, dict]:
    """{model: {sigma tag: scores}} and {model: {sigma tag: crops}} of every model trained on data `name`."""
    natural, table, crops = params["natural"], {}, {}
    mine = {m: e for m, e in natural_models(natural).items() if e["data"] == name}
    for model_name, entry in tqdm(mine.items(), desc="models", disable=None):
        model = load_model(models / f"{model_name}.safetensors")
        sigmas = (
            natural["sigmas"] if entry["sigma"] == "blind" else [s for s in natural["sigmas"] if s == entry["sigma"]]
        )
        table[model_name], crops[model_name] = {}, {}
        for sigma in sigmas:
            tag = noise_tag(sigma)
            scores, outs = score_all(model, arrays, names, tag, natural["tile"], ensemble=1)
            table[model_name][tag] = {**mean(scores), "images": {n: s["psnr"] for n, s in scores.items()}}
            table[model_name][tag]["x8"] = mean(score_all(model, arrays, names, tag, natural["tile"], ensemble=8)[0])
            crops[model_name][tag] = np.stack([crop(outs[n]) for n in names[:4]])
            row = table[model_name][tag]
            log.info("%s sigma %s: %.2f dB, x8 %.2f dB", model_name, tag, row["psnr"], row["x8"]["psnr"])
    return table, crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    for arg in ("name", "data", "models", "bm3d", "bm3d_outputs", "metrics", "csv", "picture"):
        parser.add_argument(arg)
    args = parser.parse_args()
    params = load_params()
    arrays, meta = load_arrays(args.data)
    names, sigmas = meta["test"], [noise_tag(s) for s in params["natural"]["sigmas"]]
    bm3d = json.loads(Path(args.bm3d).read_text())
    bm3d_out, _ = load_arrays(args.bm3d_outputs)
    noisy = {t: mean({n: score(arrays[f"test_noisy/{t}/{n}"], arrays[f"test/{n}"]) for n in names}) for t in sigmas}
    table, crops = run_models(params, args.name, arrays, names, Path(args.models))
    table = {"noisy": noisy, "bm3d": {t: {k: bm3d[t][k] for k in ("psnr", "ssim")} for t in sigmas}, **table}
    best = {
        t: max(
            (m for m in table if m not in ("noisy", "bm3d") and t in table[m]),
            default=None,
            key=lambda m: table[m][t]["psnr"],
        )
        for t in sigmas
    }
    check_unchanged()
    write_json(args.metrics, {"sigmas": sigmas, "table": table, "best": best})
    rows = io.StringIO()
    writer = csv.writer(rows, lineterminator="\n")
    writer.writerow(["method", "sigma", "psnr", "ssim"])
    for method, per_sigma in table.items():
        for t, s in per_sigma.items():
            writer.writerow([method, t, f"{s['psnr']:.4f}", f"{s['ssim']:.4f}"])
            if "x8" in s:
                writer.writerow([f"{method} x8", t, f"{s['x8']['psnr']:.4f}", f"{s['x8']['ssim']:.4f}"])
    write_text(args.csv, rows.getvalue())
    tag = sigmas[len(sigmas) // 2]
    picture = {"clean": np.stack([crop(arrays[f"test/{n}"]) for n in names[:4]])}
    picture["noisy"] = np.stack([crop(arrays[f"test_noisy/{tag}/{n}"]) for n in names[:4]])
    picture["BM3D"] = np.stack([crop(bm3d_out[f"{tag}/{n}"]) for n in names[:4]])
    picture |= {m: c[tag] for m, c in crops.items() if tag in c}
    plot_method_grid(picture, args.picture, f"{args.name}: test crops at sigma {tag}")


if __name__ == "__main__":
    run(main)
