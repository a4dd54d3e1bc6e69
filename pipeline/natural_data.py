"""Stage `natural_data@<name>`: one folder pair of `natural.data` as grey float images, split into train and val
images, with the fixed noisy copies of every test image at every `natural.sigmas` (every method sees the same)."""

import argparse
import logging

from dae.images import image_folder
from dae.io import save_arrays
from dae.natural import add_test_noise, noise_tag, resolve_folder, split_names
from dae.params import ParamError, check_unchanged, load_params
from pipeline._stage import run

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", help="a key of natural.data")
    parser.add_argument("out", help="the .safetensors file to write")
    args = parser.parse_args()
    params = load_params()
    natural, mirror = params["natural"], params["data"]["mirror"]
    if args.name not in natural["data"]:
        raise ParamError(f"params: natural.data has no entry {args.name!r}")
    folders = natural["data"][args.name]
    train = image_folder(resolve_folder(folders["train"], mirror))
    test = image_folder(resolve_folder(folders["test"], mirror))
    small = [n for n, im in train.items() if min(im.shape) < natural["patch"]]
    if small:
        raise ParamError(f"params: natural.patch = {natural['patch']} is larger than training image {small[0]}")
    train_names, val_names = split_names(list(train), natural["val_images"], params["data"]["seed"])
    arrays = {f"train/{n}": train[n] for n in train_names} | {f"val/{n}": train[n] for n in val_names}
    arrays |= {f"test/{n}": im for n, im in test.items()}
    for sigma in natural["sigmas"]:
        for n, im in test.items():
            arrays[f"test_noisy/{noise_tag(sigma)}/{n}"] = add_test_noise(im, sigma, params["noise"]["seed"], n)
    check_unchanged()
    save_arrays(args.out, arrays, {"train": train_names, "val": val_names, "test": list(test)})
    log.info(
        "%s: %d train, %d val, %d test images -> %s", args.name, len(train_names), len(val_names), len(test), args.out
    )


if __name__ == "__main__":
    run(main)
