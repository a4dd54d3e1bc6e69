"""`python -m dae denoise ...`: the same command as `dae-denoise ...`."""

import sys

from dae.cli import main

USAGE = "usage: python -m dae denoise IN... -o OUTDIR [options]  (python -m dae denoise --help for more)"

if __name__ == "__main__":
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(USAGE)
        sys.exit(0)
    if sys.argv[1:2] != ["denoise"]:
        print(USAGE, file=sys.stderr)
        sys.exit(2)  # a usage error, as argparse exits
    sys.exit(main(sys.argv[2:]))
