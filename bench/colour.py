"""python -m bench.colour [--epochs N] [--patches N] [--luma-chroma | --shipped]: a grey model run per channel
against a colour model, both trained on the same colour patches, on colour photos that no choice here was made on.

`dae-denoise` denoises a colour photo one channel at a time with a grey model. This measures what that costs against
a colour model (3 channels in and out) of the same architecture (`configs/natural.yaml`'s U-Net) and training
recipe, blind over sigma 0-55: the colour model sees each patch whole; the grey model sees the same patches, one
colour channel of each (in turn) as a grey patch. The shipped grey model (`models/grey-blind.safetensors`, trained
on Train400) and BM3D on the colour image (`bm3d.bm3d_rgb`, which works in a luminance/chroma space) sit beside
them. Images: the colour photos bundled with scikit-image, scikit-learn and Matplotlib (no download):

- train: china, flower (scikit-learn), chelsea, rocket, hubble_deep_field, retina (scikit-image)
- val (picks each model's epoch): immunohistochemistry (scikit-image)
- test (only ever scored): astronaut, coffee (scikit-image), grace_hopper (Matplotlib)

Noise: unclipped gaussian, the field's protocol, one fixed draw per (image, sigma); PSNR with peak 255 over all
three channels of the output clamped and rounded to 8 bit. Writes bench/results-colour.json.

`--luma-chroma` instead runs the shipped model per R, G, B channel and on a luminance/chroma split
(`dae.denoise_image(..., colour="luma_chroma")`) of the train and val photos (not the test ones) and prints both.
`--shipped` only scores the shipped model on the test photos, both ways and as luminance/chroma with the x8
self-ensemble (a minute or two, no training; writes nothing).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from bench._args import number

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ("china", "flower", "chelsea", "rocket", "hubble_deep_field", "retina")
VAL = ("immunohistochemistry",)
TEST = ("astronaut", "coffee", "grace_hopper")
SIGMAS = (15, 25, 50)


def photo(name: str) -> np.ndarray:
    """One bundled colour photo, HxWx3 float32 in [0, 1]."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        pixels = load_sample_image(f"{name}.jpg")
    elif name == "grace_hopper":
        import matplotlib.image
        from matplotlib import cbook

        pixels = matplotlib.image.imread(cbook.get_sample_data("grace_hopper.jpg"))
    else:
        from skimage import data

        pixels = getattr(data, name)()
    return np.ascontiguousarray(pixels[..., :3], dtype=np.float32) / 255


def psnr8(output: np.ndarray, clean: np.ndarray) -> float:
    from dae.images import quantise

    mse = np.mean((quantise(output).astype(np.float64) - np.rint(clean * 255)) ** 2)
    return float(10 * np.log10(255**2 / mse))


def as_grey(pairs: tuple) -> tuple:
    """(noisy, clean) colour patch tensors as grey patches: patch i's channel i mod 3, so that the grey model sees
    as many patches, and costs as much, as the colour one."""
    pick = torch.arange(len(pairs[0])) % 3
    return tuple(t[torch.arange(len(t)), pick][:, None].contiguous() for t in pairs)


def train(colour: bool, args: argparse.Namespace, natural: dict, train_p: dict) -> object:
    from dae.natural import level, patch_pairs
    from dae.training import pick_device
    from pipeline._build import fit_within_memory

    images = [photo(n) for n in TRAIN]
    val_images = [photo(n) for n in VAL]
    shape = (lambda p: p) if colour else as_grey
    noise, seed, patch = level("blind", natural["blind"]), train_p["seed"], natural["patch"]
    val = shape(patch_pairs(val_images, patch, natural["val_patches"], noise, seed, 0))

    def redraw(epoch: int) -> tuple:
        return shape(patch_pairs(images, patch, args.patches, noise, seed, epoch))

    start = time.perf_counter()
    model, best = fit_within_memory(
        natural["archs"]["unet"], train_p, redraw(0), val, pick_device("cpu"), redraw, watch_params=False
    )
    print(f"{'colour' if colour else 'grey'} model: best val loss {best['val_loss']:.6f} at epoch {best['epoch']}, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    return model


def score(methods: dict) -> dict:
    """{method: {sigma: mean PSNR over the test photos}}; the noisy input scored as `noisy`."""
    from dae.inference import denoise_image
    from dae.natural import add_test_noise

    table: dict = {name: {} for name in ["noisy", *methods]}
    for sigma in SIGMAS:
        rows: dict = {name: [] for name in table}
        for name in TEST:
            clean = photo(name)
            noisy = add_test_noise(clean, sigma, 0, name)
            rows["noisy"].append(psnr8(noisy, clean))
            for method, run in methods.items():
                out = denoise_image(run, noisy) if isinstance(run, torch.nn.Module) else run(noisy, sigma)
                rows[method].append(psnr8(out, clean))
        for method, values in rows.items():
            table[method][str(sigma)] = round(float(np.mean(values)), 2)
        print(f"sigma {sigma}: " + ", ".join(f"{m} {v[str(sigma)]:.2f}" for m, v in table.items()))
    return table


def _luma_chroma(model: torch.nn.Module, ensemble: int = 1):
    from dae.inference import denoise_image

    return lambda noisy, sigma: denoise_image(model, noisy, colour="luma_chroma", ensemble=ensemble)


def luma_chroma_check(model: torch.nn.Module) -> None:
    """The other way to run a grey model on colour (`denoise_image(..., colour="luma_chroma")`): on luminance and
    chroma instead of R, G, B. Scored on the train and val photos only (600x600 at most), never the test ones, since
    it decides what dae-denoise does."""
    from dae.inference import denoise_image
    from dae.natural import add_test_noise

    for sigma in SIGMAS:
        rgb, split = [], []
        for name in TRAIN + VAL:
            clean = photo(name)[:600, :600]
            noisy = add_test_noise(clean, sigma, 7, name)
            rgb.append(psnr8(denoise_image(model, noisy), clean))
            split.append(psnr8(denoise_image(model, noisy, colour="luma_chroma"), clean))
        print(f"sigma {sigma}: per R, G, B channel {np.mean(rgb):.2f} dB, luminance/chroma {np.mean(split):.2f} dB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=number(int, 1), default=15)
    parser.add_argument("--patches", type=number(int, 1), default=2000, help="colour patches drawn afresh every epoch")
    parser.add_argument("--luma-chroma", action="store_true", help="only compare per-channel with luminance/chroma")
    parser.add_argument("--shipped", action="store_true", help="only score the shipped grey model, both ways")
    args = parser.parse_args()
    if args.luma_chroma or args.shipped:
        from dae.models import load_model

        shipped = load_model(ROOT / "models/grey-blind.safetensors")
        if args.luma_chroma:
            return luma_chroma_check(shipped)
        ways = {"luminance/chroma": _luma_chroma(shipped), "luminance/chroma x8": _luma_chroma(shipped, 8)}
        return score({"shipped grey-blind per channel": shipped, **ways})
    import bm3d

    from dae.io import atomic_path
    from dae.models import load_model
    from dae.params import natural_train, validate
    from dae.training import cpu_has_bf16

    params = validate(yaml.safe_load((ROOT / "configs/natural.yaml").read_text()))
    natural, train_p = params["natural"], natural_train(params) | {"epochs": args.epochs}
    train_p["amp_cpu"] &= cpu_has_bf16() is not False  # emulated bf16 is many times slower than fp32
    start = time.perf_counter()
    methods = {
        "colour U-Net": train(True, args, natural, train_p),
        "grey U-Net per channel": train(False, args, natural, train_p),
        "shipped grey-blind per channel": load_model(ROOT / "models/grey-blind.safetensors"),
        "BM3D (bm3d_rgb)": lambda noisy, sigma: bm3d.bm3d_rgb(noisy, sigma / 255),
    }
    table = score(methods)
    result = {"command": "python -m bench.colour", "epochs": args.epochs, "patches": args.patches,
              "bf16": train_p["amp_cpu"], "train": TRAIN, "val": VAL, "test": TEST, "psnr": table,
              "seconds": round(time.perf_counter() - start)}  # fmt: skip
    out = ROOT / "bench" / "results-colour.json"
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(ROOT)} ({result['seconds']} s)")


if __name__ == "__main__":
    main()
