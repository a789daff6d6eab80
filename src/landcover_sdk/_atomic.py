"""Atomic outputs: write to a temporary name beside the target, rename only when complete."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageError

PARTIAL_MARK = ".partial-"


def check_output_path(final: str | Path, *, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Validate an output path before any work: its folder exists and it is not an input."""
    p = Path(final)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise StorageError(f"{p}: output folder {parent} does not exist")
    if p.is_dir():
        raise StorageError(f"{p}: output path is a folder")
    for src in inputs:
        try:
            same = Path(src).resolve() == p.resolve()
        except OSError:
            same = False
        if same:
            raise StorageError(f"{p}: output path is the same file as input {src}")
    return p


def partial_name(final: Path) -> Path:
    """A fresh hidden temporary name beside ``final`` that keeps its suffix (drivers look at it)."""
    return final.with_name(f".{final.stem}{PARTIAL_MARK}{secrets.token_hex(4)}{final.suffix}")


def remove_stale_partials(final: Path) -> None:
    """Delete temporary files a killed earlier run left for ``final``."""
    with contextlib.suppress(OSError):
        for stale in final.parent.glob(f".{final.stem}{PARTIAL_MARK}*{final.suffix}"):
            with contextlib.suppress(OSError):
                stale.unlink()


def publish(tmp: Path, target: Path) -> None:
    """Flush ``tmp`` to disk and rename it to ``target`` (one atomic step for readers)."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_output(final: str | Path, *, inputs: tuple[str | Path, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path; on success rename it to ``final``, on failure delete it.

    No partial file ever sits under the final name: a reader sees the old file or the
    complete new one. Leftovers of a killed earlier run are removed first.
    """
    target = check_output_path(final, inputs=inputs)
    remove_stale_partials(target)
    tmp = partial_name(target)
    try:
        yield tmp
        if tmp.exists():
            publish(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def atomic_write_bytes(final: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``final`` atomically."""
    with atomic_output(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)


def atomic_write_text(final: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``final`` atomically."""
    return atomic_write_bytes(final, text.encode("utf-8"))
