"""Prove the pipeline reproduces.

    python -m pipeline.repro_check                      # two runs from clean on a small config: identical?
    python -m pipeline.repro_check --against-committed  # does HEAD's code reproduce HEAD's dvc.lock and metrics/?
    python -m pipeline.repro_check --natural --mirror ../shared/datasets
        # does configs/natural.yaml, run from clean, reproduce the recorded docs/data/natural.json? (about 90 min)

Prints a table of what matched and what differed; exits 1 on a difference beyond tolerance, or when the committed
dvc.lock is stale (code or params changed without `dvc repro`).
"""

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

import yaml

from pipeline.repro import (
    SMALL,
    clear_results,
    committed_copy,
    compare,
    fresh_dir,
    natural_record_mismatch,
    recorded_rows,
    recorded_run,
    run,
    stale_stages,
    table,
)

ROOT = Path(__file__).resolve().parents[1]


def against_committed(keep: bool) -> int:
    work = fresh_dir("repro-committed-")
    try:
        copy = committed_copy(ROOT, work / "repo")
        stale = stale_stages(copy)
        if stale:
            print("The committed dvc.lock does not match the committed code and params. Stale stages:")
            print("\n".join(f"  {line}" for line in stale))
            print("Run `dvc repro` and commit dvc.lock, metrics/ and plots/ with the change.")
            return 1
        reference = work / "committed"
        shutil.copytree(copy, reference, ignore=shutil.ignore_patterns(".git", ".dvc"))
        clear_results(copy)
        print(f"Reproducing HEAD from clean in {copy} ...", flush=True)
        run("dvc", "repro", cwd=copy)
        rows = compare(reference, copy, exact=False)
        if run("dvc", "status", "-q", cwd=copy, check=False).returncode != 0:
            rows.append({"what": "dvc status after repro", "a": "clean", "b": "not clean", "status": "DIFFERS"})
        return report(rows, "committed", "reproduced")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _in_head(flag: str, path: str) -> tuple[str, str]:
    """`path` relative to the repository (given so, or absolute inside it) and "", or "" and why HEAD has no such file.

    Asked of git before anything is copied: the run is a copy of HEAD, so a file that exists only in the working
    tree would be read from nowhere.
    """
    full = (ROOT / path).resolve()  # an absolute path stays itself
    if not full.is_relative_to(ROOT):
        return "", f"{flag} {path}: outside the repository; give a file committed at HEAD"
    rel = full.relative_to(ROOT).as_posix()
    if run("git", "cat-file", "-t", f"HEAD:{rel}", cwd=ROOT, check=False).stdout.strip() == "blob":
        return rel, ""
    if full.is_file():
        return "", f"{flag} {path}: not committed at HEAD; the check runs a copy of HEAD, so commit it first"
    return "", f"{flag} {path}: no such file in the repository; give a file committed at HEAD"


def natural(config: str, record_file: str, keep: bool) -> int:
    """Run a natural-image config from clean in a copy of HEAD; compare with the run recorded in `record_file`."""
    (config, bad_config), (record_file, bad_record) = _in_head("--config", config), _in_head("--record", record_file)
    if bad_config or bad_record:
        print("\n".join(line for line in (bad_config, bad_record) if line))
        return 1
    work = fresh_dir("repro-natural-")
    try:
        copy = committed_copy(ROOT, work / "repo")
        record = json.loads((copy / record_file).read_text())
        mismatch = natural_record_mismatch(record, yaml.safe_load((copy / config).read_text()))
        if mismatch:
            print(f"{record_file} was not recorded with {config}: " + "; ".join(mismatch))
            print(f"Rerun {config} and record it with tools/natural_tables.py --record.")
            return 1
        shutil.copyfile(copy / config, copy / "params.yaml")
        clear_results(copy)
        print(f"Reproducing {config} from clean in {copy} ...", flush=True)
        run("dvc", "repro", f"evaluate_natural@{record['data']}", cwd=copy)
        rows, notes = recorded_rows(compare(recorded_run(record, work / "recorded"), copy, exact=False), record)
        for note in notes:
            print(f"{record_file} {note}")
        return report(rows, "recorded", "reproduced")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def twice(keep: bool) -> int:
    work = fresh_dir("repro-twice-")
    try:
        copies = []
        for name in ("run1", "run2"):
            copy = committed_copy(ROOT, work / name, override=SMALL)
            print(f"dvc repro in {copy} (small config) ...", flush=True)
            run("dvc", "repro", cwd=copy)
            copies.append(copy)
        return report(compare(*copies, exact=True), "run 1", "run 2")
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict], a: str, b: str) -> int:
    bad = [r for r in rows if r["status"].startswith("DIFFERS")]
    loose = [r for r in rows if r["status"] != "match" and r not in bad]
    print(table(rows, a, b))
    print(f"\n{len(rows) - len(bad) - len(loose)} match, {len(loose)} within tolerance, {len(bad)} differ ({a} vs {b})")
    return 1 if bad else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against-committed", action="store_true", help="reproduce HEAD's committed results")
    parser.add_argument("--natural", action="store_true", help="reproduce the recorded natural-image run")
    parser.add_argument(
        "--config", default="configs/natural.yaml", help="with --natural: the params it ran with (committed at HEAD)"
    )
    parser.add_argument(
        "--record", default="docs/data/natural.json", help="with --natural: the recorded run (committed at HEAD)"
    )
    parser.add_argument("--mirror", help="with --natural: the data mirror holding its image folders")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies for inspection")
    args = parser.parse_args()
    if args.mirror:
        os.environ["DAE_DATA_MIRROR"] = str(Path(args.mirror).resolve())
    if args.natural:
        sys.exit(natural(args.config, args.record, args.keep))
    sys.exit(against_committed(args.keep) if args.against_committed else twice(args.keep))


if __name__ == "__main__":
    main()
