"""Stage `evaluate_sweep@<setting>`: one sweep model scored as the `evaluate` stage scores the main one, then next to
the classical denoisers on the same test pairs (pipeline/baselines.py), with the model loaded once.

One stage for both: each stage is a process that pays about two seconds to import torch before any work, and a
setting's evaluation and comparison read the same model and the same pairs.
"""

import argparse

from dae.models import load_model
from dae.params import load_params
from pipeline._stage import run
from pipeline.baselines import compare
from pipeline.evaluate import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", help="output of a train_sweep stage")
    parser.add_argument("pairs", help="the setting's noisy/clean pairs")
    parser.add_argument("metrics", help="JSON file: the model's test metrics")
    parser.add_argument("grid", help="PNG of noisy | denoised | clean test images")
    parser.add_argument("baselines", help="JSON file: every classical method's scores and tuned knobs")
    parser.add_argument("baselines_grid", help="PNG: the same test images through every method")
    args = parser.parse_args()
    params = load_params()
    model = load_model(args.model)
    evaluate(model, args.pairs, args.metrics, args.grid, params["eval"]["grid_images"])
    compare(model, args.pairs, args.baselines, args.baselines_grid, params["baselines"])


if __name__ == "__main__":
    run(main)
