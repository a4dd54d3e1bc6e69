"""Stage `bm3d_natural@<name>`: BM3D, given the true sigma, on every noisy test image of `natural_data@<name>`,
scored by the field's protocol; its outputs are kept for the example pictures."""

import argparse
import logging

from tqdm import tqdm

from dae.baselines import bm3d
from dae.io import load_arrays, save_arrays, write_json
from dae.natural import noise_tag, score
from dae.params import check_unchanged, load_params
from pipeline._stage import run

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", help="natural_data's .safetensors file")
    parser.add_argument("metrics", help="JSON to write: sigma -> mean and per-image PSNR and SSIM")
    parser.add_argument("outputs", help=".safetensors of the denoised images")
    args = parser.parse_args()
    params = load_params()
    arrays, meta = load_arrays(args.data)
    sigmas, names = params["natural"]["sigmas"], meta["test"]
    scores, outputs = {}, {}
    with tqdm(total=len(sigmas) * len(names), desc="bm3d", unit="image", disable=None) as bar:
        for sigma in sigmas:
            tag, per_image = noise_tag(sigma), {}
            for name in names:
                out = bm3d(arrays[f"test_noisy/{tag}/{name}"][None], sigma / 255)[0]
                outputs[f"{tag}/{name}"], per_image[name] = out, score(out, arrays[f"test/{name}"])
                bar.update()
            scores[tag] = {k: sum(s[k] for s in per_image.values()) / len(names) for k in ("psnr", "ssim")}
            scores[tag]["images"] = per_image
            log.info("bm3d sigma %s: %.2f dB", tag, scores[tag]["psnr"])
    check_unchanged()
    save_arrays(args.outputs, outputs)
    write_json(args.metrics, scores)


if __name__ == "__main__":
    run(main)
