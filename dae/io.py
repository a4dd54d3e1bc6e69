"""Atomic, byte-stable file output: every stage writes a temporary name and renames it at the end."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file
from safetensors.numpy import save as safetensors_bytes

from dae.errors import DaeError


def _entry(path: str | Path) -> Path:
    """`path` as a Path, refused unless its last part names an entry of its folder.

    `plots/train/sweep/..` is `plots/train`: replacing "it" would delete a folder the caller never named (pathlib
    also turns `a/.` into `a`, so the check reads the text as given).
    """
    if os.path.basename(os.fspath(path).rstrip(os.sep)) in ("", ".", ".."):
        raise DaeError(f"{path}: refusing to write an output that is not a plain entry of its folder")
    return Path(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    A killed or failing writer leaves at most a hidden `.tmp-*` file, never a complete-looking output.
    """
    path = _entry(path)
    if path.is_dir() and not path.is_symlink():
        # os.replace would fail with a bare IsADirectoryError; a folder is never replaced by a file output.
        raise DaeError(f"{path}: is a folder; a file output cannot replace it (remove the folder or write elsewhere)")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}.")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Like atomic_path, for a whole folder: filled under a temporary name, swapped in only on success."""
    path = _entry(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(path)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".tmp-{path.name}."))
    try:
        yield tmp
        tmp.chmod(0o755)
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _remove_leftovers(path: Path) -> None:
    """Delete temporaries that a killed writer of `path` left behind (.dvcignore hides them from DVC too)."""
    # mkstemp/mkdtemp add exactly 8 characters: `.tmp-b.1.x3k9aq2z` (of `b.1`) is not a leftover of `b`.
    for leftover in path.parent.glob(f".tmp-{glob.escape(path.name)}.????????"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def write_json(path: str | Path, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")  # the same bytes whatever the locale


META_KEY = "dae"


def pack_metadata(metadata: dict[str, Any] | None) -> dict[str, str]:
    """safetensors' header metadata as ONE key holding sorted JSON.

    safetensors writes its metadata map in random key order, so several keys would make equal files differ.
    """
    return {META_KEY: json.dumps(metadata or {}, sort_keys=True)}


def read_metadata(path: str | Path) -> dict[str, Any]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
        return json.loads(meta.get(META_KEY, "{}"))
    except (SafetensorError, OSError, ValueError, RecursionError) as exc:
        raise DaeError(f"{path}: not a readable safetensors file ({exc.__class__.__name__})") from None


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def save_arrays(path: str | Path, arrays: dict[str, np.ndarray], metadata: dict[str, Any] | None = None) -> None:
    """Save arrays as safetensors, byte-identical for equal arrays and metadata.

    Serialised in memory, then written through atomic_path: safetensors' own save_file writes a `.tmpXXXXXX` file
    of its own beside the output, which a kill would leave behind under a name this project does not clean.
    """
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    write_bytes(path, safetensors_bytes(arrays, metadata=pack_metadata(metadata)))


def load_arrays(path: str | Path, keys: tuple[str, ...] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays (all, or only `keys`: the rest is never read into memory) and metadata of a safetensors file."""
    from safetensors import safe_open

    if not Path(path).exists():
        raise DaeError(f"{path}: file not found; run `dvc repro` to produce it")
    try:
        if keys is None:
            arrays = load_file(str(path))
        else:
            with safe_open(str(path), framework="numpy") as handle:
                missing = set(keys) - set(handle.keys())
                if missing:
                    raise DaeError(f"{path}: has no {', '.join(sorted(missing))}")
                arrays = {key: handle.get_tensor(key) for key in keys}
    except (SafetensorError, OSError) as exc:
        raise DaeError(f"{path}: not a readable safetensors file ({exc})") from None
    return arrays, read_metadata(path)
