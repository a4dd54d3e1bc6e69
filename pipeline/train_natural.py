"""Stages `train_natural@<model>` and `finetune_natural@<model>`: one natural-image model (`natural.models.<model>`,
or `natural.finetune.<model>` starting from its `from` model's weights, given with --init) trained on patches drawn
afresh every epoch from its data's training images, at one noise level or (blind) across `natural.blind`; the epoch
kept is the one of the best loss on fixed val patches of the held-out images."""

import argparse
import logging
import time

from dae.io import load_arrays
from dae.models import save_model
from dae.natural import level, patch_pairs
from dae.params import ParamError, check_unchanged, load_params, natural_models, natural_train
from dae.patches import downscaled
from dae.training import pick_device
from pipeline._build import fit_within_memory
from pipeline._stage import run

log = logging.getLogger(__name__)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="a key of natural.models or natural.finetune")
    parser.add_argument("data", help="natural_data's .safetensors file")
    parser.add_argument("out", help="the model file to write")
    parser.add_argument("--init", help="the model file to start from (natural.finetune entries)")
    args = parser.parse_args()
    params = load_params()
    natural, models = params["natural"], natural_models(params["natural"])
    if args.model not in models:
        raise ParamError(f"params: natural.models and natural.finetune have no entry {args.model!r}")
    entry, train_p = models[args.model], natural_train(params)
    if (entry["from"] is None) != (args.init is None):
        what = "is not a natural.finetune entry" if args.init else "is a natural.finetune entry and needs --init"
        raise ParamError(f"params: {args.model} {what}")
    train_p |= {k: entry[k] for k in ("epochs", "loss", "lr") if entry[k] is not None}
    arrays, _ = load_arrays(args.data)
    images = {split: [v for k, v in arrays.items() if k.startswith(f"{split}/")] for split in ("train", "val")}
    noise, seed, patch = level(entry["sigma"], natural["blind"]), train_p["seed"], natural["patch"]
    val = patch_pairs(images["val"], patch, natural["val_patches"], noise, seed, 0)
    count = len(images["train"])
    images["train"] = downscaled(images["train"], entry["scales"] or [1], patch)  # the val patches stay full size
    if len(images["train"]) > count:  # a factor whose copies would be smaller than a patch adds none
        log.info("%s: %d training images and %d shrunk copies", args.model, count, len(images["train"]) - count)

    def redraw(epoch: int):
        return patch_pairs(images["train"], patch, natural["patches"], noise, seed, epoch)

    start = time.perf_counter()
    model_p = natural["archs"][entry["arch"]]
    device = pick_device(train_p["device"], "natural.train.device" if "device" in natural["train"] else "train.device")
    model, best = fit_within_memory(model_p, train_p, redraw(0), val, device, redraw, args.init)
    log.info(
        "%s: best val loss %.6f at epoch %d (%.0f s)",
        args.model,
        best["val_loss"],
        best["epoch"],
        time.perf_counter() - start,
    )
    check_unchanged()
    extra = {"natural": args.model, "data": entry["data"], "sigma": entry["sigma"], "patch": patch, **best}
    extra |= {"from": entry["from"]} if entry["from"] else {}
    save_model(model, args.out, extra={**extra, "blind": natural["blind"]} if entry["sigma"] == "blind" else extra)


if __name__ == "__main__":
    run(main)
