"""Small helpers shared across sub-packages: storage-URL tests, the cache folder, redaction, progress bars."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ._redact import redact

__all__ = ["cache_dir", "flock", "is_remote", "local_path", "progress_bar", "redact",
           "sha256_file"]


def is_remote(path: str | Path) -> bool:
    """Whether ``path`` is a storage URL other than ``file://`` (e.g. ``az://container/key``)."""
    text = str(path)
    return "://" in text and not text.startswith("file://")


def local_path(path: str | Path) -> Path:
    """A plain path or ``file://`` URL as a :class:`Path`."""
    return Path(str(path).removeprefix("file://"))


def cache_dir() -> Path:
    """Where downloaded objects are cached (``LANDCOVER_CACHE_DIR`` or ``~/.cache/landcover-sdk``)."""
    root = os.environ.get("LANDCOVER_CACHE_DIR") or str(Path.home() / ".cache" / "landcover-sdk")
    return Path(root)


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in chunks.

    Args:
        path: the file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def flock(path: str | Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file ``path`` (created, with its folder) for the block.

    One process, and one thread, at a time gets through: each call opens its own file description, which
    ``flock`` locks against every other one.

    Args:
        path: the lock file (its content is never written).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: callers' atomic renames still keep their outputs whole
        yield
        return
    lock = Path(path)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def progress_bar(total: int | None, *, enabled: bool, desc: str, unit: str, initial: int = 0) -> Iterator[Any]:
    """A tqdm progress bar on stderr, shown only when stderr is a terminal; always closed."""
    from tqdm import tqdm

    # disable=None: tqdm turns itself off when stderr is not a TTY (logs, pipes, CI)
    bar = tqdm(total=total, initial=initial, unit=unit, desc=desc, disable=None if enabled else True, leave=False)
    try:
        yield bar
    finally:
        bar.close()
