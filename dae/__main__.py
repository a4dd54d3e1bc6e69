"""`python -m dae denoise ...`: the same command as `dae-denoise ...`."""

import sys

from dae.cli import main

if __name__ == "__main__":
    if sys.argv[1:2] != ["denoise"]:
        sys.exit("usage: python -m dae denoise IN... -o OUTDIR [options]  (python -m dae denoise --help for more)")
    sys.exit(main(sys.argv[2:]))
