"""Stage `corrupt`: noisy/clean pairs for one noise setting, every split, seeded by the setting's content."""

import argparse
import logging

from dae.io import load_arrays, save_arrays
from dae.noise import SPLITS, corrupt, rng_for, to_unit
from dae.params import MAIN, load_params, setting, validate_setting
from dae.resources import require
from pipeline._stage import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("clean", help="output of the download stage")
    parser.add_argument("out", help="safetensors file of {split}_noisy (float32) and {split}_clean (uint8)")
    parser.add_argument("--name", default=MAIN, help="setting name: main (params.yaml noise:) or a sweep key")
    parser.add_argument("--type", help="noise type of a sweep setting (dvc.yaml passes it)")
    parser.add_argument("--level", help="std, amount or rate of a sweep setting (dvc.yaml passes it)")
    parser.add_argument("--clip", action=argparse.BooleanOptionalAction, help="gaussian: overrides noise.clip")
    args = parser.parse_args()
    params = load_params()
    noise = params["noise"]
    # Sweep stages pass their setting on the command line, so that DVC sees an edited sweep entry.
    if args.type is None:
        chosen = setting(params, args.name)
    else:
        chosen = validate_setting(args.name, args.type, args.level, args.clip)
    clip = chosen.get("clip", noise["clip"])
    arrays, meta = load_arrays(args.clean)
    # Per split: the float32 copy of the clean images, the noisy result, and the generator's draws.
    largest = max(arrays[f"{split}_x"].nbytes for split in SPLITS)
    require(12 * largest, f"corrupting {meta['dataset']}", "data.subset")
    pairs = {}
    for split in SPLITS:
        clean = arrays[f"{split}_x"]
        rng = rng_for(noise["seed"], chosen, split)
        noisy = corrupt(to_unit(clean), chosen, rng, clip=clip, salt_ratio=noise["salt_ratio"])
        pairs[f"{split}_noisy"] = noisy
        pairs[f"{split}_clean"] = clean
    recipe = {**chosen, "clip": clip, "salt_ratio": noise["salt_ratio"], "seed": noise["seed"]}
    save_arrays(args.out, pairs, {"setting": recipe, "dataset": meta["dataset"]})
    logging.info("%s: %s %s=%g -> %s", args.name, chosen["type"], "level", chosen["level"], args.out)


if __name__ == "__main__":
    run(main)
