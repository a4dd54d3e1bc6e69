"""Stage `check_params`: validate all of params.yaml before any other stage runs.

Every other stage is downstream of this one (through `download`), so a bad value, or a sweep or blind name that
is not a plain word (`..`, `a/b`, `$(...)`), is refused in one line before a command that interpolates it runs and
before DVC deletes any output that such a name points at. The output is constant, so a valid change to params.yaml
reruns only this stage and the stages that read the changed params.
"""

import argparse

from dae.io import write_text
from dae.params import load_params
from pipeline._stage import run

VALID = "params.yaml passed dae.params.validate\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="marker file that the download stage depends on")
    args = parser.parse_args()
    load_params()
    write_text(args.out, VALID)


if __name__ == "__main__":
    run(main)
